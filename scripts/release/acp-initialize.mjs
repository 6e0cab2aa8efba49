#!/usr/bin/env node
// Sends an ACP `initialize` to `shadowbox acp` (found on PATH) and prints the answer's agentInfo and
// protocolVersion; exits 1 when the answer is missing or malformed. Used by scripts/release-check.sh.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const child = spawn('shadowbox', ['acp'], { stdio: ['pipe', 'pipe', 'inherit'] });
const request = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1, clientCapabilities: {} } };
child.stdin.write(`${JSON.stringify(request)}\n`);
const timer = setTimeout(() => {
  console.error('acp-initialize: no answer within 60 s');
  child.kill();
  process.exit(1);
}, 60_000);
for await (const line of createInterface({ input: child.stdout })) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    continue;
  }
  if (msg.id !== 1) continue;
  clearTimeout(timer);
  const ok = msg.result && typeof msg.result.protocolVersion === 'number';
  console.log(
    ok
      ? `acp initialize: protocolVersion ${msg.result.protocolVersion}, agent ${JSON.stringify(msg.result.agentInfo ?? null)}`
      : `acp initialize failed: ${line}`,
  );
  child.stdin.end();
  child.kill();
  process.exit(ok ? 0 : 1);
}
console.error('acp-initialize: shadowbox acp closed without answering');
process.exit(1);
