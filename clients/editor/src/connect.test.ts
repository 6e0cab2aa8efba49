import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

describe('connectSocket', () => {
  // A peer that sends one message's header and never its body, then the client is disposed: with
  // vscode-jsonrpc's partial-message timer (10 s, re-armed forever) the process never exits. In a child
  // process, so "exits by itself" is what is observed; it is killed (and the test fails) if it does not.
  it.runIf(existsSync(dist))(
    'a client disposed in the middle of a message lets its process exit',
    async () => {
      const script = `
      import net from 'node:net'; import os from 'node:os'; import path from 'node:path';
      const { connectSocket } = await import(${JSON.stringify(dist)});
      const sock = path.join(os.tmpdir(), 'sbx-partial-' + process.pid + '.sock');
      let peer;
      const server = net.createServer((s) => { peer = s; s.write('Content-Length: 50\\r\\n\\r\\n{"jsonrpc":"2.0"'); });
      await new Promise((r) => server.listen(sock, r));
      const c = await connectSocket(sock);
      while (!peer) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 100)); // the header has been read
      c.dispose();
      peer.destroy();
      server.close();
    `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
      const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
        child.once('exit', (c, s) => r([c, s])),
      );
      clearTimeout(killer);
      expect({ code, signal }).toEqual({ code: 0, signal: null });
    },
    60_000,
  );
});
