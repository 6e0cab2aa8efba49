import type { ErrorReason } from '@shadowbox/protocol';
import type { ToolCallOutcome } from '../agent/index.js';
import type { AuditSink } from '../audit/index.js';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import type { WorkspaceView } from '../shadow/index.js';
import type { Logger } from '../state/index.js';
import { capContent } from './cap.js';
import { canonicalPaths } from './paths.js';
import type { Tool, ToolContext, ToolOutput, ToolProgress, ToolTarget } from './define.js';
import { digestInput } from './digest.js';
import { restrictedFor } from './restricted-view.js';
import type { PolicyPort, PolicyQuery, ToolSessionContext } from './ports.js';
import { summarize, summarizeParsed } from './summary.js';
import { validateInput } from './validate.js';

/** A tool in the registry with its JSON Schema computed once. */
export interface RegisteredTool {
  tool: Tool<unknown>;
  jsonSchema: Record<string, unknown>;
}

export interface CallDeps {
  tools: Map<string, RegisteredTool>;
  policy: PolicyPort;
  audit: AuditSink;
  logger: Logger;
  maxContentBytes: number;
}

export interface CallRequest {
  turnId: string;
  callId: string;
  name: string;
  input: unknown;
  signal: AbortSignal;
  /** Called when the handler is about to run: after the policy, any permission question and the tool.start entry. */
  onRunning?: () => void;
  onProgress?: (chunk: ToolProgress) => void;
}

type Decision = NonNullable<ToolCallOutcome['decision']>;
type Failure = { code: number; reason: ErrorReason; content: string; data?: Record<string, unknown> };

const PERMISSION_OPTIONS = ['allow_once', 'allow_session', 'allow_project', 'deny'] as const;

/**
 * One call through the pipeline: digest → look up → validate → canonical targets → policy (and a person
 * when it asks) → a `tool.start` audit entry (write-ahead: no entry, no run) → handler with an abort
 * signal, on a view without the paths deny rules keep from it → cap → one `tool.call` audit entry with
 * the outcome. Every failure is a result with isError that the model reads; nothing here is meant to throw.
 */
export async function runCall(deps: CallDeps, ctx: ToolSessionContext, req: CallRequest): Promise<ToolCallOutcome> {
  const started = performance.now();
  const digested = digestInput(req.input);
  const input0 =
    digested.digest === null
      ? { inputDigest: null, inputDigestError: digested.error }
      : { inputDigest: digested.digest, inputBytes: digested.bytes };
  const entry = deps.tools.get(req.name);
  let decision: Decision | undefined;
  let answer: string | undefined;
  let paths: string[] | undefined;
  let startSeq: number | undefined;
  // An input without a digest is never summarized either (both walk it). Both audit entries carry one summary:
  // set from the validated input once it passed (no second parse), parsed here only for a refusal before that.
  let summaryMemo: { kind: Tool<unknown>['kind']; summary: string } | undefined;
  const summary = () =>
    entry && digested.digest !== null
      ? (summaryMemo ??= { kind: entry.tool.kind, summary: summarize(entry.tool, req.input).slice(0, 200) })
      : {};

  const finish = async (
    r: Omit<ToolCallOutcome, 'durationMs' | 'decision'>,
    run?: Record<string, unknown>,
  ): Promise<ToolCallOutcome> => {
    const out: ToolCallOutcome = {
      ...r,
      ...(decision ? { decision } : {}),
      ...(startSeq !== undefined ? { auditSeq: startSeq } : {}),
      durationMs: performance.now() - started,
    };
    const data: Record<string, unknown> = {
      tool: req.name,
      callId: req.callId,
      turnId: req.turnId,
      ...summary(),
      ...(decision ? { decision } : {}),
      ...(answer ? { answer } : {}),
      outcome: out.isError ? 'error' : 'ok',
      ...(out.code !== undefined ? { code: out.code } : {}),
      ...(out.reason !== undefined ? { reason: out.reason } : {}),
      durationMs: Math.round(out.durationMs * 1000) / 1000,
      ...input0,
      ...(startSeq !== undefined ? { startSeq } : {}),
      outputBytes: Buffer.byteLength(out.output ?? out.content),
      ...(paths?.length ? { paths } : {}),
      ...(out.changed?.length ? { changed: out.changed } : {}),
      ...(run ? { run } : {}),
    };
    try {
      await deps.audit.append({ type: 'tool.call', workspace: ctx.workspace, sessionId: ctx.sessionId, data });
    } catch (e) {
      deps.logger.error(
        `audit append failed for tool ${req.name} call ${req.callId}: ${(e as Error)?.message ?? String(e)}`,
      );
    }
    return out;
  };
  const fail = (f: Failure) =>
    finish({ isError: true, content: f.content, code: f.code, reason: f.reason, ...(f.data ? { data: f.data } : {}) });

  if (digested.digest === null)
    return fail({
      code: ErrorCodes.AuditFailed,
      reason: 'audit_unavailable',
      content: `${req.name} was not run: its input cannot be recorded in the audit log (${digested.error === 'too_deep' ? 'nested too deeply' : 'not plain JSON'}). Send a flatter input.`,
      data: { cause: 'input_not_digestible', detail: digested.error },
    });
  if (!entry) {
    const names = [...deps.tools.keys()].join(', ');
    return fail({
      code: ErrorCodes.ToolNotFound,
      reason: 'unknown_tool',
      content: `There is no tool named "${req.name}". Available tools: ${names}.`,
    });
  }
  const { tool } = entry;
  const valid = validateInput(tool.name, tool.input, req.input, entry.jsonSchema);
  if (!valid.ok)
    return fail({
      code: ErrorCodes.ToolInputInvalid,
      reason: 'invalid_input',
      content: valid.message,
      data: { fields: valid.fields },
    });
  const input = valid.value;
  summaryMemo = { kind: tool.kind, summary: summarizeParsed(tool, input).slice(0, 200) };
  if (req.signal.aborted) return fail(cancelled('before it ran'));

  let view: WorkspaceView | undefined;
  let target: ToolTarget;
  try {
    target = tool.targets?.(input) ?? {};
    if (target.paths?.length) {
      view = await ctx.view();
      const intent = tool.kind === 'read' || tool.kind === 'search' ? 'read' : 'write';
      target = { ...target, paths: await canonicalPaths(view, target.paths, intent) };
      paths = target.paths;
    }
  } catch (e) {
    return fail(fromThrown(e, tool.name, deps.logger));
  }

  const query: PolicyQuery = {
    workspace: ctx.workspace,
    sessionId: ctx.sessionId,
    mode: ctx.mode(),
    tool: tool.name,
    kind: tool.kind,
    target,
  };
  let verdict: Awaited<ReturnType<PolicyPort['decide']>>;
  try {
    verdict = await deps.policy.decide(query);
  } catch (e) {
    deps.logger.error(`policy decide failed for ${tool.name}: ${(e as Error)?.message ?? String(e)}`);
    return fail({
      code: ErrorCodes.PermissionDenied,
      reason: 'policy_failed',
      content: `${tool.name} was not run: the permission policy could not decide (see the daemon log).`,
    });
  }
  decision = { action: verdict.action, rule: verdict.rule };
  if (verdict.action === 'deny') {
    return fail({
      code: ErrorCodes.PermissionDenied,
      reason: 'policy_denied',
      content: `Permission denied by policy (rule: ${verdict.rule}). ${tool.name} was not run; do not retry the same call.`,
    });
  }
  if (verdict.action === 'ask') {
    const summary = summarizeParsed(tool, input);
    const a = await ctx.ask(
      {
        turnId: req.turnId,
        callId: req.callId,
        tool: tool.name,
        kind: tool.kind,
        summary,
        input: req.input,
        rule: verdict.rule,
        // Only answers that take effect: under an "always ask" rule a remembered allow would do nothing.
        options: verdict.rememberable === false ? ['allow_once', 'deny'] : [...PERMISSION_OPTIONS],
      },
      req.signal,
    );
    answer = a.outcome;
    const by = a.by;
    if (a.outcome === 'allow_once' || a.outcome === 'allow_session' || a.outcome === 'allow_project') {
      decision = { action: 'allow', rule: verdict.rule, ...(by ? { by } : {}) };
      if (a.outcome !== 'allow_once') {
        try {
          await deps.policy.grant(query, a.outcome === 'allow_session' ? 'session' : 'project', by);
        } catch (e) {
          deps.logger.error(`policy grant failed for ${tool.name}: ${(e as Error)?.message ?? String(e)}`);
        }
      }
    } else {
      decision = { action: 'deny', rule: verdict.rule, ...(by ? { by } : {}) };
      if (a.outcome === 'cancelled') return fail(cancelled('while waiting for permission'));
      if (a.outcome === 'timeout')
        return fail({
          code: ErrorCodes.PermissionTimeout,
          reason: 'permission_timeout',
          content: `Nobody answered the permission request for ${tool.name} in time, so it was not run.`,
        });
      return fail({
        code: ErrorCodes.PermissionDenied,
        reason: 'user_denied',
        content: `The person denied this ${tool.name} call. Do not retry it; ask them or try another approach.`,
      });
    }
  } else {
    decision = { action: 'allow', rule: verdict.rule };
  }

  if (req.signal.aborted) return fail(cancelled('before it ran'));
  // The view is looked up while the entry is written (a lookup, not an act of the tool: tools with paths got it
  // before the policy); a failure surfaces below, where the handler would have asked for it.
  const viewAhead = view ? undefined : ctx.view();
  void viewAhead?.catch(() => undefined);
  // Write-ahead: the call runs only once its audit entry is written.
  try {
    const receipt = await deps.audit.append({
      type: 'tool.start',
      workspace: ctx.workspace,
      sessionId: ctx.sessionId,
      data: {
        tool: tool.name,
        callId: req.callId,
        turnId: req.turnId,
        ...summary(),
        decision,
        ...(answer ? { answer } : {}),
        ...input0,
        ...(paths?.length ? { paths } : {}),
      },
    });
    startSeq = receipt?.seq;
  } catch (e) {
    const cause = isShadowboxError(e) ? { causeCode: e.code, causeReason: String(e.reason) } : {};
    deps.logger.error(
      `audit unavailable, ${tool.name} call ${req.callId} not run: ${(e as Error)?.message ?? String(e)}`,
    );
    return fail({
      code: ErrorCodes.AuditFailed,
      reason: 'audit_unavailable',
      content: `${tool.name} was not run: the audit log cannot be written${cause.causeReason ? ` (${cause.causeReason})` : ''}. Nothing runs unrecorded; see the daemon log.`,
      data: cause,
    });
  }
  req.onRunning?.();
  let output: ToolOutput;
  try {
    view ??= await (viewAhead ?? ctx.view());
    if (verdict.deniedPaths?.length) view = await restrictedFor(view, verdict.deniedPaths);
    output = await runHandler(
      tool,
      input,
      {
        sessionId: ctx.sessionId,
        workspace: ctx.workspace,
        view,
        callId: req.callId,
        ...(ctx.readBuffer ? { readBuffer: ctx.readBuffer } : {}),
        ...(req.onProgress ? { progress: req.onProgress } : {}),
        ...(verdict.readOnlyWorkspace ? { readOnly: true } : {}),
        ...(verdict.deniedPaths?.length ? { denied: verdict.deniedPaths } : {}),
        ...(ctx.updatePlan ? { plan: (items) => ctx.updatePlan!(req.turnId, items) } : {}),
      },
      req.signal,
      deps.logger,
    );
  } catch (e) {
    if (req.signal.aborted) return fail(cancelled('while it ran'));
    return fail(fromThrown(e, tool.name, deps.logger));
  }
  const capped = capContent(output.content, deps.maxContentBytes);
  const full = output.output ?? (capped.truncated ? output.content : undefined);
  return finish(
    {
      isError: output.isError ?? false,
      content: capped.content,
      ...(full !== undefined ? { output: full } : {}),
      ...(output.changed?.length ? { changed: output.changed } : {}),
      ...(output.data ? { data: output.data } : {}),
      ...(output.isError ? { reason: 'tool_error' } : {}),
    },
    output.audit,
  );
}

/** Runs the handler with its own signal; a cancel settles the call at once even if the handler ignores it. */
async function runHandler(
  tool: Tool<unknown>,
  input: unknown,
  base: Omit<ToolContext, 'signal'>,
  signal: AbortSignal,
  logger: Logger,
): Promise<ToolOutput> {
  // A cancel that came while the call was audited or its view opened: the handler never starts (a listener added
  // now would never fire, and the handler would run to its own end).
  if (signal.aborted) throw new ShadowboxError(ErrorCodes.RequestCancelled, 'cancelled', 'cancelled');
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let stop: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    stop = () => reject(new ShadowboxError(ErrorCodes.RequestCancelled, 'cancelled', 'cancelled'));
    ac.signal.addEventListener('abort', stop, { once: true });
  });
  const running = tool.handler(input, { ...base, signal: ac.signal });
  // A handler that keeps going after a cancel must not surface as an unhandled rejection.
  running.catch((e: unknown) => {
    if (ac.signal.aborted) logger.debug(`tool ${tool.name} ended after cancel: ${(e as Error)?.message ?? String(e)}`);
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([running, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (stop) ac.signal.removeEventListener('abort', stop);
  }
}

function cancelled(when: string): Failure {
  return { code: ErrorCodes.RequestCancelled, reason: 'cancelled', content: `Cancelled ${when}.` };
}

/** A thrown value as a result the model reads: a ShadowboxError keeps its code and reason. */
function fromThrown(e: unknown, tool: string, logger: Logger): Failure {
  if (isShadowboxError(e)) {
    // Keep the error's details (path, host, server, rule …) for clients; `reason` is already its own field.
    const { reason: _reason, ...details } = e.data;
    return {
      code: e.code,
      reason: e.reason,
      content: `${tool} failed (${e.reason}): ${e.message}`,
      ...(Object.keys(details).length ? { data: details } : {}),
    };
  }
  logger.error(`tool ${tool} threw: ${(e as Error)?.stack ?? String(e)}`);
  return {
    code: ErrorCodes.InternalError,
    reason: 'internal_error',
    content: `${tool} failed with an internal error: ${(e as Error)?.message ?? String(e)}`,
  };
}
