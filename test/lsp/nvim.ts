// A real headless Neovim for the end-to-end tests, driven over its msgpack-RPC socket. The RPC client is
// written here (on @msgpack/msgpack) rather than taken from the official `neovim` npm package: that one
// pulls in winston and ~29 packages and replaces the test process's global `console` methods on import,
// for what here is a single request (`nvim_exec_lua`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { decodeMultiStream, encode } from '@msgpack/msgpack';

/** The nvim binary on PATH, or null (the tests that need it then skip, saying so). */
export function findNvim(): string | null {
  const r = spawnSync('nvim', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'nvim' : null;
}

/** A running headless Neovim and a way to run Lua in it. */
export interface Nvim {
  child: ChildProcess;
  /** Runs Lua (`...` are the args) and returns its value. */
  lua<T = unknown>(code: string, args?: unknown[]): Promise<T>;
  /** Quits Neovim (`:qa!`) and waits for the process. */
  quit(): Promise<number | null>;
  stderr(): string;
}

/** Starts `nvim --headless -u INIT --listen SOCK FILES…` in `cwd` with its own XDG dirs. */
export async function startNvim(o: {
  init: string;
  cwd: string;
  files: string[];
  env: NodeJS.ProcessEnv;
  home: string;
}): Promise<Nvim> {
  const sock = path.join(o.home, 'nvim.sock');
  const env = {
    ...o.env,
    XDG_CONFIG_HOME: path.join(o.home, 'config'),
    XDG_DATA_HOME: path.join(o.home, 'data'),
    XDG_STATE_HOME: path.join(o.home, 'state'),
    XDG_CACHE_HOME: path.join(o.home, 'cache'),
  };
  const child = spawn('nvim', ['--headless', '-n', '-i', 'NONE', '-u', o.init, '--listen', sock, ...o.files], {
    cwd: o.cwd,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  let socket: net.Socket | null = null;
  for (let i = 0; i < 2000 && !socket; i++) {
    socket = await new Promise<net.Socket | null>((resolve) => {
      const s = net.connect(sock);
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(null));
    });
    if (!socket) await new Promise((r) => setTimeout(r, 10));
    if (child.exitCode !== null) throw new Error(`nvim exited (${child.exitCode}): ${err}`);
  }
  if (!socket) throw new Error(`nvim never listened on ${sock}: ${err}`);
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  void (async () => {
    for await (const msg of decodeMultiStream(socket)) {
      const m = msg as unknown[];
      if (m[0] !== 1) continue; // requests and notifications from nvim are not used here
      const p = pending.get(m[1] as number);
      pending.delete(m[1] as number);
      if (m[2]) p?.reject(new Error(`nvim: ${JSON.stringify(m[2])}`));
      else p?.resolve(m[3]);
    }
  })().catch(() => undefined);
  const request = (method: string, params: unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.write(encode([0, id, method, params]));
    });
  return {
    child,
    lua: async <T>(code: string, args: unknown[] = []) => (await request('nvim_exec_lua', [code, args])) as T,
    async quit() {
      void request('nvim_command', ['qa!']).catch(() => undefined);
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(t);
      socket.destroy();
      return code;
    },
    stderr: () => err,
  };
}
