import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import type { FetchAuthorizer } from '../net/index.js';
import { defineTool, LiveOutput, type Tool } from '../tools/index.js';
import { SHELL_TOOL_DESCRIPTION } from './description.js';
import type { ShellRunResult, ShellSandbox } from './sandbox.js';

/** Input of the `shell` tool (exported as JSON Schema for the model). */
export const ShellToolInput = lazySchema(() =>
  z
    .object({
      command: z.string().min(1).max(100_000).describe('The command, run as /bin/sh -c COMMAND at the workspace root'),
      timeoutMs: z
        .number()
        .int()
        .positive()
        .optional()
        .describe('Time limit in milliseconds (default 120000; more than the configured cap is refused)'),
      network: z
        .boolean()
        .optional()
        .describe('Reach the network through the policy-checked HTTP(S) proxy (asks the person in review mode)'),
    })
    .strict(),
);
export type ShellToolInput = z.infer<ReturnType<typeof ShellToolInput>>;

const list = (xs: string[], max = 20) =>
  xs.length > max ? `${xs.slice(0, max).join(', ')}, … (${xs.length})` : xs.join(', ');

/** Output the model reads at most (the runtime caps a result at 32 KiB): the first 8 KiB and the last 16 KiB. */
const MODEL_HEAD = 8 * 1024;
const MODEL_TAIL = 16 * 1024;

/** The output as the model reads it: a long one keeps its start and its end (a test summary is at the end). */
function forModel(text: string): string {
  const b = Buffer.from(text);
  if (b.byteLength <= MODEL_HEAD + MODEL_TAIL) return text;
  const dropped = b.byteLength - MODEL_HEAD - MODEL_TAIL;
  return `${b.subarray(0, MODEL_HEAD).toString('utf8')}\n[… ${dropped} bytes of output dropped here; the person sees more …]\n${b.subarray(b.byteLength - MODEL_TAIL).toString('utf8')}`;
}

/** What the model reads: the output, then how the command ended and what it changed. */
export function describeShellRun(r: ShellRunResult, timeoutMs: number): string {
  const parts: string[] = [];
  if (r.combined) parts.push(forModel(r.combined).replace(/\n$/, ''));
  if (r.truncated)
    parts.push(`[${r.totalBytes} bytes of output in all: the start and the end are kept, the rest dropped]`);
  if (r.timedOut)
    parts.push(
      `[timed out after ${(timeoutMs / 1000).toFixed(0)} s: the command and everything it started were stopped]`,
    );
  else if (r.cancelled) parts.push('[cancelled: the command and everything it started were stopped]');
  else parts.push(`[exit code ${String(r.exitCode)}]`);
  if (r.readOnly) parts.push('[the workspace was mounted read-only (read-only mode): writes fail with EROFS]');
  if (r.changed.length)
    parts.push(`[changed in the shadow workspace, pending review: ${list([...new Set(r.changed)])}]`);
  if (r.renamed.length) parts.push(`[renamed: ${list(r.renamed.map((m) => `${m.from} → ${m.to}`))}]`);
  if (r.ignored.length)
    parts.push(
      `[build output kept for later commands, not reviewed: ${list(r.ignored.map((i) => `${i.path}${i.change === 'deleted' ? ' (deleted)' : ` (${i.files} files)`}`))}]`,
    );
  if (r.refused.length) parts.push(`[not taken: ${list(r.refused.map((x) => `${x.path} (${x.reason})`))}]`);
  if (r.network) {
    const ok = r.network.filter((d) => d.allowed).map((d) => `${d.host}:${d.port}`);
    const no = r.network.filter((d) => !d.allowed).map((d) => `${d.host}:${d.port} (${d.reason ?? 'refused'})`);
    if (ok.length || no.length)
      parts.push(
        `[network: ${ok.length ? `reached ${list(ok)}` : ''}${ok.length && no.length ? '; ' : ''}${no.length ? `refused ${list(no)}` : ''}]`,
      );
  }
  return parts.join('\n');
}

/** The `shell` tool: a host command in the bubblewrap + overlay sandbox over the session's shadow workspace. */
export function createShellTool(
  sandbox: ShellSandbox,
  authorizeFor: (sessionId: string) => FetchAuthorizer,
): Tool<ShellToolInput> {
  return defineTool({
    name: 'shell',
    kind: 'execute',
    description: SHELL_TOOL_DESCRIPTION,
    input: ShellToolInput,
    targets: (input) => ({ command: input.command, network: input.network === true }),
    summarize: (input) => {
      const first = input.command.split('\n')[0];
      return `$ ${first.length > 80 ? `${first.slice(0, 80)}…` : first}${input.network ? ' (network)' : ''}`;
    },
    handler: async (input, ctx) => {
      const live = ctx.progress ? new LiveOutput(ctx.progress) : null;
      let r: ShellRunResult;
      try {
        r = await sandbox.run(input, {
          sessionId: ctx.sessionId,
          view: ctx.view,
          signal: ctx.signal,
          ...(ctx.readOnly ? { readOnly: true } : {}),
          ...(ctx.denied ? { denied: ctx.denied } : {}),
          ...(live ? { onOutput: (c) => live.push(c.stream, c.text) } : {}),
          ...(input.network ? { authorize: authorizeFor(ctx.sessionId) } : {}),
          ...(ctx.callId ? { callId: ctx.callId } : {}),
        });
      } finally {
        live?.close();
      }
      const timeoutMs = input.timeoutMs ?? sandbox.limits.timeoutMs;
      const changed = [...new Set(r.changed)];
      const exitCode = r.exitCode ?? (r.timedOut ? 124 : 137);
      return {
        content: describeShellRun(r, timeoutMs),
        isError: r.exitCode !== 0,
        output: r.combined,
        changed,
        data: {
          exitCode,
          stdout: r.stdout,
          stderr: r.stderr,
          timedOut: r.timedOut,
          cancelled: r.cancelled,
          durationMs: r.durationMs,
          truncated: r.truncated,
          totalBytes: r.totalBytes,
          cwd: ctx.view.root,
          changed,
          renamed: r.renamed,
          ignored: r.ignored,
          refused: r.refused,
          network: r.network,
          readOnly: r.readOnly,
          timings: r.timings,
        },
        audit: {
          command: input.command.length > 4096 ? `${input.command.slice(0, 4096)}…` : input.command,
          cwd: ctx.view.root,
          exitCode,
          ...(r.timedOut ? { timedOut: true } : {}),
          ...(r.cancelled ? { cancelled: true } : {}),
          durationMs: Math.round(r.durationMs),
          network: input.network ? { requested: true, decisions: r.network ?? [] } : { requested: false },
          readOnly: r.readOnly,
          changed,
          ...(r.ignored.length ? { ignored: r.ignored.map((i) => i.path) } : {}),
          ...(r.refused.length ? { refused: r.refused } : {}),
        },
      };
    },
  });
}
