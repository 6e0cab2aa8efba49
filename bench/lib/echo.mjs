// Starts the bare vscode-jsonrpc baseline server (echo-server.mjs) in its own process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export async function startEcho() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbxe-'));
  const socketPath = path.join(dir, 'echo.sock');
  const child = spawn(process.execPath, [new URL('./echo-server.mjs', import.meta.url).pathname, socketPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => resolve(Number(/ready (\d+)/.exec(String(d))[1])));
    child.once('exit', (c) => reject(new Error(`echo server exited ${c}`)));
  });
  return {
    socketPath,
    url: `http://127.0.0.1:${port}/`,
    stop: () => (child.kill(), rmSync(dir, { recursive: true, force: true })),
  };
}
