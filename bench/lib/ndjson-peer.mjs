// The editor side of an ACP agent over stdio (newline-delimited JSON-RPC), for the ACP benches: spawns the agent,
// sends requests, resolves each with its result, and counts the notifications it receives.
import { spawn } from 'node:child_process';

/**
 * Spawns `node ...argv` (or `file ...argv`: the native launcher) and speaks JSON-RPC lines to it;
 * `onNotification(msg)` sees every notification.
 */
export function ndjsonPeer(argv, env, onNotification = () => {}, file = process.execPath) {
  const child = spawn(file, argv, { env, stdio: ['pipe', 'pipe', 'ignore'] });
  const answered = new Map();
  let buf = '';
  let nextId = 0;
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (msg.method !== undefined) onNotification(msg);
      else if (msg.id !== undefined) answered.get(msg.id)?.(msg);
    }
  });
  const call = (method, params) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      answered.set(id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  return {
    child,
    call,
    /** Ends its stdin and waits for it to exit. */
    async close() {
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin.end();
      await exited;
    },
  };
}
