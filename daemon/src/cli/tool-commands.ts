import path from 'node:path';
import { parseArgs } from 'node:util';
import { SessionCreate, ToolsCall } from '@shadowbox/protocol';
import { type CliIo, CliError, connectCli } from './context.js';

/** Reads all of stdin when it is piped (not a terminal). */
async function readStdin(io: CliIo): Promise<string | undefined> {
  if (io.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs one tool in a fresh session on the workspace through policy and audit; prints its output like a program. */
async function callTool(io: CliIo, workspace: string, tool: string, input: Record<string, unknown>, stateDir?: string): Promise<number> {
  const client = await connectCli(io, { stateDir, name: `shadowbox-${tool}` });
  try {
    const s = await client.request(SessionCreate, { workspace, title: `shadowbox ${tool}` });
    const r = await client.request(ToolsCall, { sessionId: s.sessionId, tool, input });
    const data = (r.data ?? {}) as { stdout?: string; stderr?: string; exitCode?: number };
    if (typeof data.stdout === 'string' || typeof data.stderr === 'string') {
      io.stdout.write(data.stdout ?? '');
      io.stderr.write(data.stderr ?? '');
    } else (r.isError ? io.stderr : io.stdout).write(`${r.output ?? r.content}\n`);
    if (r.changed?.length) io.stderr.write(`shadowbox: ${r.changed.length} file(s) changed in the shadow workspace (review with: shadowbox review --session ${s.sessionId})\n`);
    if (r.isError && r.reason) io.stderr.write(`shadowbox: ${r.content.split('\n')[0]}\n`);
    return typeof data.exitCode === 'number' ? data.exitCode : r.isError ? 1 : 0;
  } finally {
    client.dispose();
  }
}

/** `shadowbox python [-c CODE | FILE] [ARGS...]`: sandboxed CPython on the current directory as the workspace. */
export async function pythonCommand(io: CliIo, argv: string[]): Promise<number> {
  const workspace = path.resolve(io.cwd, io.env.SHADOWBOX_WORKSPACE ?? '.');
  let code: string | undefined;
  let file: string | undefined;
  let args: string[] = [];
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
  return callTool(io, workspace, 'python', { ...(code !== undefined ? { code } : {}), ...(file ? { file } : {}), args, ...(stdin ? { stdin } : {}) });
}

/** `shadowbox wasi run BUNDLE [--command CMD] -- ARGS`: a bundle's module in the sandbox on the current directory. */
export async function wasiCommand(io: CliIo, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'run') throw new CliError('usage: shadowbox wasi run BUNDLE [--command CMD] [--workspace DIR] -- ARGS...', 2);
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { command: { type: 'string' }, workspace: { type: 'string', short: 'w' }, 'state-dir': { type: 'string' } } });
  const [bundle, ...args] = positionals;
  if (!bundle) throw new CliError('name the bundle: shadowbox wasi run sqlite -- :memory: "select 1"', 2);
  const stdin = await readStdin(io);
  const workspace = path.resolve(io.cwd, values.workspace ?? '.');
  return callTool(io, workspace, 'run_bundle', { bundle, ...(values.command ? { command: values.command } : {}), args, ...(stdin ? { stdin } : {}) }, values['state-dir']);
}
