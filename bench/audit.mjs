// Audit and policy benchmarks: audit appends/s (sequential and 64 in flight) interleaved over 5 rounds with a plain
// fs.appendFile JSON Lines baseline (median, min–max), verify of one log against reading it and hashing its lines, and
// the cost of one policy decision (pure function and through the service, which stats the rules file).
import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { auditFiles, createAuditLog } from '../daemon/dist/audit/index.js';
import { createPolicy, decide, DEFAULT_PROTECTED } from '../daemon/dist/policy/index.js';
import { interleaveMeasured, row, stats } from './lib/interleave.mjs';

const N = 5_000;
const N_EVERY = 500;
const ROUNDS = 5;
const IN_FLIGHT = 64;
const logger = { info() {}, warn() {}, error() {}, debug() {}, close: async () => {} };
const ws = '/bench/workspace';
const dataOf = (i) => ({
  tool: 'read_file',
  callId: `c${i}`,
  summary: `read src/file${i % 100}.ts:1-40`,
  args: 'a'.repeat(64),
  decision: { action: 'allow', rule: 'mode:review kind:read' },
  durationMs: 1.5,
  bytesIn: 120,
  bytesOut: 4096,
  outcome: 'ok',
});

async function timeIt(fn) {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function inFlight(n, call) {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) await call(next++);
    }),
  );
}

async function auditRun(dir, durability, parallel, n = N) {
  const log = createAuditLog({ stateDir: dir, logger, durability, checkpointIdleMs: 0 });
  await log.append({ type: 'session.start', workspace: ws, sessionId: 's', data: {} }); // key + open outside the timing
  const append = (i) => log.append({ type: 'tool.call', workspace: ws, sessionId: 's', data: dataOf(i) });
  const secs = await timeIt(() =>
    parallel
      ? inFlight(n, append)
      : (async () => {
          for (let i = 0; i < n; i++) await append(i);
        })(),
  );
  await log.close();
  return secs;
}

async function baselineRun(file, parallel, n = N) {
  // A plain JSON Lines file: one fs.appendFile per entry, no chain, no hashing (and, 64 in flight, no ordering guarantee).
  let seq = 0;
  const append = (i) =>
    appendFile(
      file,
      JSON.stringify({
        seq: ++seq,
        time: new Date().toISOString(),
        type: 'tool.call',
        sessionId: 's',
        data: dataOf(i),
      }) + '\n',
    );
  return timeIt(() =>
    parallel
      ? inFlight(n, append)
      : (async () => {
          for (let i = 0; i < n; i++) await append(i);
        })(),
  );
}

async function heldOpenRun(file) {
  // A stricter baseline: one handle kept open, one write per entry, sequential.
  const fh = await open(file, 'a');
  let seq = 0;
  const secs = await timeIt(async () => {
    for (let i = 0; i < N; i++)
      await fh.write(
        JSON.stringify({
          seq: ++seq,
          time: new Date().toISOString(),
          type: 'tool.call',
          sessionId: 's',
          data: dataOf(i),
        }) + '\n',
      );
  });
  await fh.close();
  return secs;
}

export async function run() {
  const rows = [];
  const root = await mkdtemp(path.join(os.tmpdir(), 'sbx-bench-audit-'));
  try {
    // Each row: ROUNDS rounds, the audit log and its alternative alternating (the order flips each round).
    const rate = (n) => (secs) => n / secs;
    for (const parallel of [false, true]) {
      const label = parallel ? `${IN_FLIGHT} in flight` : 'sequential';
      let k = 0;
      const chk = await interleaveMeasured(
        ROUNDS,
        async () => rate(N)(await auditRun(path.join(root, `chk-${parallel}-${k++}`), 'checkpoint', parallel, N)),
        async () => rate(N)(await baselineRun(path.join(root, `base-${label}-${k}.jsonl`), parallel, N)),
      );
      rows.push(
        row(`audit appends/s, ${label} (fsync at checkpoints)`, chk, 'vs fs.appendFile JSONL, no chain', 'entries/s'),
      );
      if (!parallel) {
        const held = await interleaveMeasured(
          ROUNDS,
          async () => rate(N)(await auditRun(path.join(root, `chk-held-${k++}`), 'checkpoint', false, N)),
          async () => rate(N)(await heldOpenRun(path.join(root, `held-${k}.jsonl`))),
        );
        rows.push(
          row(
            'audit appends/s, sequential, vs held-open handle',
            held,
            'vs one open FileHandle, one write per entry, no chain',
            'entries/s',
          ),
        );
      }
      // fdatasync per entry (sequential) is slow on a shared disk: fewer entries per round.
      const n = parallel ? N : N_EVERY;
      const every = await interleaveMeasured(
        ROUNDS,
        async () => rate(n)(await auditRun(path.join(root, `every-${parallel}-${k++}`), 'every', parallel, n)),
        async () => rate(n)(await baselineRun(path.join(root, `base-every-${label}-${k}.jsonl`), parallel, n)),
      );
      rows.push(
        row(
          `audit appends/s, ${label} (fdatasync every batch)`,
          every,
          `${n} entries a round; ${parallel ? 'group commit: one write + fdatasync per batch' : 'one fdatasync per entry'}; vs fs.appendFile JSONL`,
          'entries/s',
        ),
      );
    }
    // Verify: the same log each round (a fresh AuditLog, so nothing is cached), against one read of that file with a
    // SHA-256 of every line: the least a hash chain's check reads and computes (no parse, no signatures, no links).
    const verifyDir = path.join(root, 'chk-true-0');
    const { log: logFile } = auditFiles(verifyDir, ws);
    let checked = null;
    const verify = await interleaveMeasured(
      ROUNDS,
      async () => {
        const log = createAuditLog({ stateDir: verifyDir, logger });
        const t = performance.now();
        const r = await log.verify(ws);
        const ms = performance.now() - t;
        await log.close();
        if (!r.ok) throw new Error(`bench log did not verify: ${JSON.stringify(r)}`);
        checked = r;
        return ms;
      },
      async () => {
        const t = performance.now();
        const text = await readFile(logFile, 'utf8');
        let lines = 0;
        for (const line of text.split('\n')) {
          if (line) createHash('sha256').update(line).digest();
          lines += 1;
        }
        if (lines < 2) throw new Error('bench log is empty');
        return performance.now() - t;
      },
    );
    rows.push(
      row(
        `audit verify, ${checked.entries} entries`,
        verify,
        `${checked.checkpoints} signed checkpoints; ${((verify.subject.median * 1000) / checked.entries).toFixed(1)} µs/entry; vs reading the log and a SHA-256 of each line`,
      ),
    );

    // Policy: a realistic project file (12 rules) and a mix of calls.
    const rules = [
      { id: 'a', action: 'deny', tool: 'write_file', path: 'secrets/**' },
      { id: 'b', action: 'deny', kind: 'delete', path: 'migrations/**' },
      { id: 'c', action: 'ask', path: 'infra/**' },
      { id: 'd', action: 'allow', tool: 'mcp__github__*' },
      { id: 'e', action: 'allow', kind: 'fetch', host: '*.pypi.org' },
      ...Array.from({ length: 7 }, (_, i) => ({
        id: `x${i}`,
        action: 'allow',
        tool: `tool_${i}`,
        path: `pkg${i}/**/*.ts`,
      })),
    ];
    const calls = [
      { mode: 'review', tool: 'read_file', kind: 'read', target: { paths: ['src/index.ts'] } },
      { mode: 'review', tool: 'write_file', kind: 'edit', target: { paths: ['src/deep/nested/file.ts'] } },
      { mode: 'review', tool: 'move_file', kind: 'move', target: { paths: ['a/b.ts', 'c/d.ts'] } },
      { mode: 'review', tool: 'fetch', kind: 'fetch', target: { hosts: ['files.pypi.org'] } },
      { mode: 'review', tool: 'mcp__github__list', kind: 'other', target: {} },
    ];
    const inputs = { rules, grants: [], protectedPaths: DEFAULT_PROTECTED };
    const pdir = path.join(root, 'policy');
    const entries = [];
    const policy = createPolicy({ stateDir: pdir, audit: { append: async (e) => void entries.push(e) }, logger });
    await policy.set({ workspace: ws, add: rules.map(({ id: _id, ...r }) => r), remove: [] }, 'bench');
    // µs per call over a batch of calls; warmed first.
    const perCall = async (n, fn) => {
      const t = performance.now();
      for (let i = 0; i < n; i++) await fn(i);
      return ((performance.now() - t) * 1000) / n;
    };
    const pure = (i) => decide(calls[i % calls.length], inputs);
    const service = (i) => policy.decide({ workspace: ws, sessionId: 's', ...calls[i % calls.length] });
    await perCall(10_000, pure);
    await perCall(1000, service);
    // The pure decision alone: nothing else does this work to run beside it; ROUNDS batches of 40,000 calls.
    const pureRounds = [];
    for (let r = 0; r < ROUNDS; r++) pureRounds.push(await perCall(40_000, pure));
    const st = stats(pureRounds);
    rows.push({
      metric: 'policy decide (pure)',
      value: Math.round(st.median * 100) / 100,
      unit: 'µs/call',
      note: `12 project rules, 2 protected globs, mixed calls; ${ROUNDS} batches of 40000: ${st.min.toFixed(2)}–${st.max.toFixed(2)}`,
    });
    // Through the service (one stat of the rules file a call, so hand edits apply to the next), against the pure
    // decision it wraps, batch by batch.
    rows.push(
      row(
        'policy decide (service)',
        await interleaveMeasured(
          ROUNDS,
          () => perCall(4000, service),
          () => perCall(4000, pure),
        ),
        'includes one stat of the rules file (hand edits apply to the next call); vs the pure decision; batches of 4000',
        'µs/call',
      ),
    );
    await writeFile(path.join(root, 'done'), '');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return { name: 'audit', rows };
}
