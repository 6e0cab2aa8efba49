import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ShadowboxClient } from '@shadowbox/client';
import {
  PolicyMode,
  SessionAttach,
  SessionConfigure,
  SessionCreate,
  SessionList,
  SessionPrompt,
  type SessionEvent,
} from '@shadowbox/protocol';
import { type CliIo, CliError, connectCli, plural, println, warnEnvironmentDrift } from './context.js';
import { optionsOf } from './specs.js';

/** What a retried model call looks like in a transcript: the cause, the URL, and which attempt comes next. */
export function retryLine(e: Extract<SessionEvent['event'], { type: 'model_retry' }>): string {
  return `↻ the model call failed (${e.message}) at ${e.url}; retrying, attempt ${e.attempt} of ${e.maxAttempts}`;
}

/** Renders one event as plain text for `shadowbox run` (no colors: output is often piped). */
export function renderPlain(
  e: SessionEvent['event'],
  write: (s: string) => void,
  state: { midLine: boolean; execCalls?: Set<string>; live?: Map<string, string> },
): void {
  const line = (s: string) => {
    if (state.midLine) write('\n');
    state.midLine = false;
    write(`${s}\n`);
  };
  switch (e.type) {
    case 'message_delta':
      write(e.text);
      state.midLine = !e.text.endsWith('\n');
      break;
    case 'tool_call':
      // Another client's direct call (tools/call) says so: the agent did not make it.
      line(`▸ ${e.tool} (${e.kind}) ${e.summary}${e.origin === 'client' ? ' (run by a client)' : ''}`);
      if (e.kind === 'execute') (state.execCalls ??= new Set()).add(e.callId);
      break;
    case 'tool_output': {
      // Live output of a running command (shell, python): whole lines as they come, under the call.
      const live = (state.live ??= new Map());
      const lines = ((live.get(e.callId) ?? '') + e.text).split('\n');
      live.set(e.callId, lines.pop() ?? '');
      for (const l of lines) line(`  │ ${l}`);
      break;
    }
    case 'tool_call_update':
      if (e.status === 'completed' || e.status === 'failed') {
        const rest = state.live?.get(e.callId);
        if (rest) line(`  │ ${rest}`);
        line(
          `  ${e.status === 'completed' ? '✓' : '✗'} ${e.status}${e.durationMs !== undefined ? ` in ${Math.round(e.durationMs)} ms` : ''}${e.status === 'failed' && e.content ? `: ${e.content.split('\n')[0].slice(0, 200)}` : ''}`,
        );
        // What code printed is the point of running it: show its first lines (unless they were shown live).
        if (e.status === 'completed' && e.content && state.execCalls?.has(e.callId) && !state.live?.has(e.callId)) {
          const lines = e.content.split('\n');
          for (const l of lines.slice(0, 8)) line(`  │ ${l}`);
          if (lines.length > 8) line(`  │ … ${plural(lines.length - 8, 'more line')}`);
        }
      }
      break;
    case 'model_retry':
      line(retryLine(e));
      break;
    case 'permission_request':
      line(
        `? permission needed for ${e.tool}: ${e.summary} (rule ${e.rule}); answer from an attached client (shadowbox attach) — waiting`,
      );
      break;
    case 'permission_resolved':
      line(`  permission ${e.outcome}${e.by ? ` by ${e.by}` : ''}`);
      break;
    case 'checkpoint':
      line(
        `● ${plural(e.files.length, 'file')} changed in the shadow workspace (commit ${e.commit.slice(0, 10)}): ${e.files.slice(0, 6).join(', ')}${e.files.length > 6 ? ', …' : ''}; review with: shadowbox review`,
      );
      break;
    case 'plan':
      line(
        `plan: ${e.items.map((i) => `[${i.status === 'done' ? 'x' : i.status === 'in_progress' ? '~' : ' '}] ${i.content}`).join(' · ')}`,
      );
      break;
    case 'turn_end': {
      const u = e.usage;
      const usage = u
        ? ` · ${u.inputTokens} tokens in${u.cachedInputTokens ? ` (${u.cachedInputTokens} cached)` : ''} / ${u.outputTokens} out${u.costUsd !== undefined ? ` · $${u.costUsd}` : ''}`
        : '';
      // The error itself is printed once, by the caller (stderr), not here as well.
      line(`— turn ended: ${e.stopReason}${usage}`);
      break;
    }
    default:
      break;
  }
}

/** The session a `--continue` means: the latest one on the workspace that has had a prompt (not a CLI tool session). */
async function latestConversation(client: ShadowboxClient, workspace: string): Promise<string> {
  const { sessions } = await client.request(SessionList, { workspace });
  const last = sessions.find((s) => s.prompts > 0);
  if (!last)
    throw new CliError(
      `no conversation to continue on ${workspace}; start one with: shadowbox run "PROMPT" (shadowbox sessions lists them)`,
      1,
    );
  return last.sessionId;
}

/** `shadowbox run [--workspace DIR] [--model M] [--session ID | --continue] [--json] "PROMPT"`: one prompt, streamed; exit 0 on end_turn. */
export async function runCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: optionsOf('run') });
  const prompt = positionals.join(' ').trim();
  if (!prompt) throw new CliError('give the prompt as an argument: shadowbox run "fix the failing test"', 2);
  if (values.session && values.continue) throw new CliError('give --session ID or --continue, not both', 2);
  const workspace = path.resolve(io.cwd, values.workspace ?? '.');
  const parsedMode = values.mode === undefined ? undefined : PolicyMode().safeParse(values.mode);
  if (parsedMode && !parsedMode.success) throw new CliError(`--mode must be ${PolicyMode().options.join(', ')}`, 2);
  const mode = parsedMode?.data;
  const client = await connectCli(io, {
    ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
    name: 'shadowbox-run',
  });
  try {
    await warnEnvironmentDrift(io, client, 'run');
    const existing = values.session ?? (values.continue ? await latestConversation(client, workspace) : undefined);
    let session = existing
      ? (await client.request(SessionAttach, { sessionId: existing, driver: true, fromSeq: Number.MAX_SAFE_INTEGER }))
          .session
      : await client.request(SessionCreate, {
          workspace,
          ...(values.model ? { model: values.model } : {}),
          ...(mode ? { mode } : {}),
        });
    if (existing && (values.model || mode))
      session = await client.request(SessionConfigure, {
        sessionId: existing,
        ...(values.model ? { model: values.model } : {}),
        ...(mode ? { mode } : {}),
      });
    const state = { midLine: false };
    client.onEvent((e) => {
      if (e.sessionId !== session.sessionId) return;
      if (values.json) println(io, JSON.stringify(e));
      else renderPlain(e.event, (s) => io.stdout.write(s), state);
    });
    if (!values.json)
      io.stderr.write(
        `session ${session.sessionId} on ${session.workspace} with ${session.model}${existing ? ` (continuing: ${plural(session.prompts, 'earlier prompt')})` : ''}\n`,
      );
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    const result = await client.request(
      SessionPrompt,
      {
        sessionId: session.sessionId,
        text: prompt,
        ...(values['max-turns'] ? { maxTurns: Number(values['max-turns']) } : {}),
      },
      abort.signal,
    );
    process.off('SIGINT', onSigint);
    // Let the last notifications (turn_end) arrive before printing the verdict.
    await new Promise((r) => setTimeout(r, 20));
    if (state.midLine) io.stdout.write('\n');
    if (result.stopReason === 'end_turn') return 0;
    io.stderr.write(
      `shadowbox run: the turn ended with ${result.stopReason}${result.error ? `: ${result.error.message}` : ''}\n`,
    );
    return result.stopReason === 'cancelled' ? 130 : 1;
  } finally {
    client.dispose();
  }
}
