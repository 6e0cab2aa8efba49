import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { SessionCreate, SessionList, ToolsCall, lazySchema } from '@shadowbox/protocol';
import { type CliIo, CliError, connectCli, plural, statePaths } from './context.js';
import { ensureBundle } from './first-use.js';
import { optionsOf } from './specs.js';
import { pythonCliInput } from './python-args.js';

/** Reads all of stdin when it is piped (not a terminal). */
async function readStdin(io: CliIo): Promise<string | undefined> {
  if (io.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}

// What a sandboxed run reports in its result data (python and run_bundle); anything else is ignored.
const RunData = lazySchema(() =>
  z
    .object({
      stdout: z.string().optional(),
      stderr: z.string().optional(),
      exitCode: z.number().int().nullable().optional(),
      outcome: z.string().optional(),
      timedOut: z.boolean().optional(),
      durationMs: z.number().optional(),
    })
    .loose(),
);

/**
 * Runs one tool through policy and audit, in this workspace's CLI session for that tool (reused while
 * idle, so successive runs' file changes are reviewed together), and prints its output like a program.
 */
async function callTool(
  io: CliIo,
  workspace: string,
  tool: string,
  input: Record<string, unknown>,
  stateDir?: string,
): Promise<number> {
  const client = await connectCli(io, { stateDir, name: `shadowbox-${tool}` });
  try {
    const title = `shadowbox ${tool}`;
    const real = await realpath(workspace).catch(() => workspace);
    // This workspace's sessions only (the daemon filters): the whole list is every session the person ever had,
    // each validated here, on every call.
    const reuse = (await client.request(SessionList, { workspace: real })).sessions.find(
      (x) => x.title === title && x.workspace === real && x.state === 'idle',
    );
    const sessionId = reuse?.sessionId ?? (await client.request(SessionCreate, { workspace, title })).sessionId;
    if (tool === 'python') await ensureBundle(client, io, statePaths(io, stateDir).stateDir, 'python');
    const r = await client.request(ToolsCall, { sessionId, tool, input });
    const data = RunData().safeParse(r.data ?? {});
    const split = data.success && (data.data.stdout !== undefined || data.data.stderr !== undefined);
    // run_bundle reports one combined output plus how the run ended (exited, timeout, memory_limit, …).
    const ran = split || (data.success && data.data.outcome !== undefined);
    if (split) {
      io.stdout.write(data.data.stdout ?? '');
      io.stderr.write(data.data.stderr ?? '');
      // The output so far is kept; then say plainly why it stopped.
      if (data.data.timedOut) {
        const secs = ((data.data.durationMs ?? 0) / 1000).toFixed(1);
        io.stderr.write(
          `\nshadowbox: ${tool} was stopped after ${secs} s: its time limit (give it more with --timeout SECONDS)\n`,
        );
      }
    } else if (ran) {
      io.stdout.write(r.output ?? '');
      if (data.success && data.data.outcome !== 'exited')
        io.stderr.write(`shadowbox: the run ended: ${data.data.outcome}\n`);
    } else (r.isError ? io.stderr : io.stdout).write(`${r.output ?? r.content}\n`);
    if (r.changed?.length)
      io.stderr.write(
        `shadowbox: ${plural(r.changed.length, 'file')} changed in the shadow workspace (${r.changed.slice(0, 6).join(', ')}${r.changed.length > 6 ? ', …' : ''}); review with: shadowbox review\n`,
      );
    // The program's own output says what went wrong when it ran; otherwise name the refusal (policy, input, limits).
    if (r.isError && !ran && r.reason) io.stderr.write(`shadowbox: ${tool} refused (${r.reason})\n`);
    const exitCode = data.success ? data.data.exitCode : undefined;
    return typeof exitCode === 'number' ? exitCode : r.isError ? 1 : 0;
  } finally {
    client.dispose();
  }
}

/**
 * `shadowbox python [--timeout S] [PYTHON ARGS...]`: sandboxed CPython with python3's command line
 * (-c, -m, FILE, -, -V, -h, …) on the current directory as the workspace. `--timeout` raises the
 * wall limit up to the configured cap (the daemon refuses more, saying the cap).
 */
export async function pythonCommand(io: CliIo, argv: string[]): Promise<number> {
  const workspace = path.resolve(io.cwd, io.env.SHADOWBOX_WORKSPACE ?? '.');
  let rest = argv;
  let timeoutMs: number | undefined;
  while (rest[0] === '--timeout' || rest[0]?.startsWith('--timeout=')) {
    const value = rest[0] === '--timeout' ? rest[1] : rest[0].slice('--timeout='.length);
    const secs = Number(value);
    if (value === undefined || !Number.isFinite(secs) || secs <= 0)
      throw new CliError(`--timeout needs a number of seconds, got ${JSON.stringify(value ?? '')}`, 2);
    timeoutMs = Math.round(secs * 1000);
    rest = rest.slice(rest[0] === '--timeout' ? 2 : 1);
  }
  const { input, programFromStdin } = pythonCliInput(rest, io.cwd, workspace);
  if (programFromStdin) input.code = (await readStdin(io)) ?? '';
  // Piped input reaches a FILE or -m program (python3 -m json.tool < f); -c gets none, so a caller
  // that leaves its stdin pipe open (a subprocess) never makes the command wait for it.
  const stdin = programFromStdin || input.code !== undefined ? undefined : await readStdin(io);
  return callTool(io, workspace, 'python', {
    ...input,
    ...(stdin ? { stdin } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
}

const WASI_USAGE =
  'usage: shadowbox wasi run BUNDLE [--command CMD] [--workspace DIR] -- ARGS...\n' +
  '       shadowbox wasi run FILE.wasm [--dir HOST[:GUEST]]... [--env K=V]... [--workspace DIR] -- ARGS...';

/**
 * `shadowbox wasi run BUNDLE|FILE.wasm … -- ARGS`: a bundle's command, or a local module (`run_wasm`),
 * in the sandbox on the current directory as the workspace. `--dir HOST[:GUEST]` mounts a folder of
 * the workspace (default guest path: /workspace/<its path>); folders outside it are refused.
 */
export async function wasiCommand(io: CliIo, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'run') throw new CliError(WASI_USAGE, 2);
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: optionsOf('wasi') });
  const [target, ...args] = positionals;
  if (!target) throw new CliError('name the bundle or module: shadowbox wasi run sqlite -- :memory: "select 1"', 2);
  const stdin = await readStdin(io);
  const workspace = path.resolve(io.cwd, values.workspace ?? '.');
  const timeoutMs = values.timeout !== undefined ? Math.round(Number(values.timeout) * 1000) : undefined;
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new CliError('--timeout needs a number of seconds', 2);
  if (!target.endsWith('.wasm')) {
    if (values.dir || values.env) throw new CliError('--dir and --env are for a local FILE.wasm', 2);
    return callTool(
      io,
      workspace,
      'run_bundle',
      {
        bundle: target,
        ...(values.command ? { command: values.command } : {}),
        args,
        ...(stdin ? { stdin } : {}),
        ...(timeoutMs ? { timeoutMs } : {}),
      },
      values['state-dir'],
    );
  }
  const inWorkspace = (host: string, what: string): string => {
    const rel = path.relative(workspace, path.resolve(io.cwd, host));
    if (rel.startsWith('..') || path.isAbsolute(rel))
      throw new CliError(
        `${what} ${host} is outside the workspace ${workspace}: only workspace folders can be mounted (their writes are reviewed); run from a folder that holds both`,
        2,
      );
    return rel.split(path.sep).join('/') || '.';
  };
  const dirs = (values.dir ?? []).map((d) => {
    const [host = '', guest] = d.split(':');
    const rel = inWorkspace(host, 'folder');
    return { path: rel, at: guest ?? (rel === '.' ? '/workspace' : `/workspace/${rel}`) };
  });
  const env: Record<string, string> = {};
  for (const kv of values.env ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new CliError(`--env needs K=V, got ${JSON.stringify(kv)}`, 2);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return callTool(
    io,
    workspace,
    'run_wasm',
    {
      module: inWorkspace(target, 'module'),
      ...(dirs.length ? { dirs } : {}),
      args,
      ...(Object.keys(env).length ? { env } : {}),
      ...(stdin ? { stdin } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
    },
    values['state-dir'],
  );
}
