import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { SessionCreate, SessionList, ToolsCall } from '@shadowbox/protocol';
import { type CliIo, CliError, connectCli, plural } from './context.js';
import { optionsOf } from './specs.js';

/** Reads all of stdin when it is piped (not a terminal). */
async function readStdin(io: CliIo): Promise<string | undefined> {
  if (io.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}

// What a sandboxed run reports in its result data (python and run_bundle); anything else is ignored.
const RunData = z
  .object({
    stdout: z.string().optional(),
    stderr: z.string().optional(),
    exitCode: z.number().int().nullable().optional(),
    outcome: z.string().optional(),
  })
  .loose();

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
    const reuse = (await client.request(SessionList, {})).sessions.find(
      (x) => x.title === title && x.workspace === real && x.state === 'idle',
    );
    const sessionId = reuse?.sessionId ?? (await client.request(SessionCreate, { workspace, title })).sessionId;
    const r = await client.request(ToolsCall, { sessionId, tool, input });
    const data = RunData.safeParse(r.data ?? {});
    const split = data.success && (data.data.stdout !== undefined || data.data.stderr !== undefined);
    // run_bundle reports one combined output plus how the run ended (exited, timeout, memory_limit, …).
    const ran = split || (data.success && data.data.outcome !== undefined);
    if (split) {
      io.stdout.write(data.data.stdout ?? '');
      io.stderr.write(data.data.stderr ?? '');
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

/** `shadowbox python [-c CODE | FILE] [ARGS...]`: sandboxed CPython on the current directory as the workspace. */
export async function pythonCommand(io: CliIo, argv: string[]): Promise<number> {
  const workspace = path.resolve(io.cwd, io.env.SHADOWBOX_WORKSPACE ?? '.');
  let code: string | undefined;
  let file: string | undefined;
  let args: string[];
  if (argv[0] === '-c') {
    if (argv[1] === undefined) throw new CliError('-c needs the code to run', 2);
    code = argv[1];
    args = argv.slice(2);
  } else if (argv[0] === '-' || argv.length === 0) {
    code = (await readStdin(io)) ?? '';
    args = argv.slice(1);
  } else {
    file = path.relative(workspace, path.resolve(io.cwd, argv[0]));
    args = argv.slice(1);
  }
  const stdin = code === undefined ? await readStdin(io) : undefined;
  return callTool(io, workspace, 'python', {
    ...(code !== undefined ? { code } : {}),
    ...(file ? { file } : {}),
    args,
    ...(stdin ? { stdin } : {}),
  });
}

/** `shadowbox wasi run BUNDLE [--command CMD] -- ARGS`: a bundle's module in the sandbox on the current directory. */
export async function wasiCommand(io: CliIo, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'run')
    throw new CliError('usage: shadowbox wasi run BUNDLE [--command CMD] [--workspace DIR] -- ARGS...', 2);
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: optionsOf('wasi') });
  const [bundle, ...args] = positionals;
  if (!bundle) throw new CliError('name the bundle: shadowbox wasi run sqlite -- :memory: "select 1"', 2);
  const stdin = await readStdin(io);
  const workspace = path.resolve(io.cwd, values.workspace ?? '.');
  return callTool(
    io,
    workspace,
    'run_bundle',
    { bundle, ...(values.command ? { command: values.command } : {}), args, ...(stdin ? { stdin } : {}) },
    values['state-dir'],
  );
}
