import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  DaemonStatus,
  Progress,
  SessionAttach,
  SessionCreate,
  SessionList,
  ToolsCall,
  lazySchema,
} from '@shadowbox/protocol';
import { type CliIo, CliError, connectCli, plural } from './context.js';
import { optionsOf } from './specs.js';

const USAGE = 'usage: shadowbox exec [--session ID] [--workspace DIR] [--net] [--timeout SECONDS] -- COMMAND [ARGS...]';

/** Quotes one argument for /bin/sh (single quotes; a quote inside becomes '\''). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

// What a shell run reports in its result data; anything else is ignored.
const ShellData = lazySchema(() =>
  z
    .object({ exitCode: z.number().int(), timedOut: z.boolean(), cancelled: z.boolean(), truncated: z.boolean() })
    .loose(),
);

/**
 * `shadowbox exec -- CMD ARGS…`: the command in the host sandbox over this workspace's shadow (its pending
 * changes visible, its writes reviewed), output streamed as it runs, exit status the command's (124 when its
 * time limit stopped it, 130 when cancelled). Where the sandbox cannot run, says what is missing and how to
 * enable it (exit 69). Ctrl-C cancels the command (its whole process tree). With `--net` in review mode the
 * question for this very command is answered yes: the person typed it.
 */
export async function execCommand(io: CliIo, argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  if (dash === -1) throw new CliError(USAGE, 2);
  const { values } = parseArgs({ args: argv.slice(0, dash), options: optionsOf('exec') });
  const words = argv.slice(dash + 1);
  if (words.length === 0) throw new CliError(USAGE, 2);
  const command = words.map(shellQuote).join(' ');
  const timeoutMs = values.timeout !== undefined ? Math.round(Number(values.timeout) * 1000) : undefined;
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new CliError('--timeout needs a number of seconds', 2);
  const client = await connectCli(io, {
    ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
    name: 'shadowbox-exec',
    permissions: true,
  });
  try {
    const shell = (await client.request(DaemonStatus, {})).sandboxes.find((s) => s.name === 'shell');
    if (!shell?.available) {
      io.stderr.write('shadowbox exec: the host command sandbox cannot run on this machine:\n');
      for (const m of shell?.missing ?? ['(the daemon does not know this sandbox)']) io.stderr.write(`  - ${m}\n`);
      io.stderr.write(
        '`shadowbox status` shows the sandboxes; the WASI sandbox (shadowbox python, wasi run) works everywhere.\n',
      );
      return 69;
    }
    let sessionId = values.session;
    if (!sessionId) {
      const workspace = path.resolve(io.cwd, values.workspace ?? io.env.SHADOWBOX_WORKSPACE ?? '.');
      const real = await realpath(workspace).catch(() => workspace);
      const title = 'shadowbox exec';
      const reuse = (await client.request(SessionList, { workspace: real })).sessions.find(
        (x) => x.title === title && x.workspace === real && x.state === 'idle',
      );
      sessionId = reuse?.sessionId ?? (await client.request(SessionCreate, { workspace, title })).sessionId;
    }
    // Attached, so this command's own network question (review mode) comes here and is answered yes.
    await client.request(SessionAttach, { sessionId, fromSeq: Number.MAX_SAFE_INTEGER });
    client.onPermission(async (q, signal) => {
      const mine =
        q.tool === 'shell' &&
        z
          .object({ command: z.literal(command) })
          .loose()
          .safeParse(q.input).success;
      if (mine) return { outcome: 'allow_once' };
      // Someone else's question: another client answers it.
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      return { outcome: 'deny' };
    });
    const token = `exec-${process.pid}`;
    let streamed = 0;
    client.connection.onNotification(Progress.method, (raw: unknown) => {
      const p = Progress.params.safeParse(raw);
      if (!p.success || p.data.token !== token || !p.data.value.stream) return;
      const text = p.data.value.message ?? '';
      streamed += text.length;
      (p.data.value.stream === 'stderr' ? io.stderr : io.stdout).write(text);
    });
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    const cancelled = () => {
      io.stderr.write('\nshadowbox: cancelled: the command and everything it started were stopped\n');
      return 130;
    };
    let r;
    try {
      r = await client.request(
        ToolsCall,
        {
          sessionId,
          tool: 'shell',
          input: { command, ...(values.net ? { network: true } : {}), ...(timeoutMs ? { timeoutMs } : {}) },
          progressToken: token,
        },
        abort.signal,
      );
    } catch (e) {
      if (abort.signal.aborted) return cancelled();
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
    // The daemon answers a cancelled call with a result (the runtime's "cancelled"), not an error.
    if (abort.signal.aborted) return cancelled();
    const data = ShellData().safeParse(r.data ?? {});
    if (!data.success) {
      // Refused before it ran (policy, input, limits): say so plainly.
      io.stderr.write(`shadowbox exec: ${r.content}\n`);
      return r.isError ? 1 : 0;
    }
    // Live output stops after 256 KiB; the rest (capped) is in the result.
    if (streamed === 0 && r.output) io.stdout.write(r.output);
    if (data.data.truncated) io.stderr.write('shadowbox: the output was capped (the start and the end are kept)\n');
    if (data.data.timedOut)
      io.stderr.write('shadowbox: the command was stopped: its time limit (raise it with --timeout SECONDS)\n');
    if (data.data.cancelled) io.stderr.write('shadowbox: cancelled\n');
    if (r.changed?.length)
      io.stderr.write(
        `shadowbox: ${plural(r.changed.length, 'path')} changed in the shadow workspace (review with: shadowbox review --session ${sessionId})\n`,
      );
    return data.data.cancelled ? 130 : data.data.exitCode;
  } finally {
    client.dispose();
  }
}
