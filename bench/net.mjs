// netFetch's checks: what parsing every host into a canonical address, asking the policy about the host
// and each address, and pinning the connection cost per fetch — against a plain `http.get` (no keep-alive,
// like netFetch) to the same local server, interleaved over rounds; plus the checks alone against bare
// `new URL()`. Needs the built daemon: `npx tsc -b daemon`.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { canonicalHost, checkUrl, createFetchPolicy, createNetFetch } from '../daemon/dist/net/index.js';
import { createPolicy } from '../daemon/dist/policy/index.js';

const ROUNDS = 7;
const FETCHES = 200;
const CHECKS = 3000;
// A different host each call (the cache never answers): the cost of parsing one, over six notations.
const spelling = (i) => {
  const a = i & 255;
  const b = (i >> 8) & 255;
  return [
    `127.${b}.${a}.1`,
    `0x0a${b.toString(16).padStart(2, '0')}${a.toString(16).padStart(2, '0')}01`,
    `[::ffff:10.${b}.${a}.1]`,
    `h${i}.example.com`,
    `169.254.${b * 256 + a}`,
    `[64:ff9b::a9fe:${(i & 0xffff).toString(16)}]`,
  ][i % 6];
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (v, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
const range = (xs, unit, d = 3) => `${round(Math.min(...xs), d)}–${round(Math.max(...xs), d)} ${unit}`;

function plainGet(url) {
  return new Promise((resolve, reject) =>
    http
      .get(url, { agent: false }, (r) => {
        r.resume();
        r.on('end', resolve);
      })
      .on('error', reject),
  );
}

/** Mean ms per call of `fn` over n sequential calls. */
async function perCall(fn, n) {
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return (performance.now() - t) / n;
}

export async function run() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-net-'));
  const server = http.createServer((_q, s) => s.end('pong'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const url = `http://127.0.0.1:${port}/x`;
  const workspace = '/bench/ws';
  const logger = { info() {}, warn() {}, error() {}, debug() {}, close: async () => undefined };
  const policy = createPolicy({ stateDir: dir, audit: { append: async () => undefined }, logger });
  await policy.set({ workspace, add: [{ action: 'allow', host: '127.0.0.1', port }], remove: [] }, 'bench');
  const authorize = createFetchPolicy({
    decide: (q) => policy.decide(q),
    session: () => ({ workspace, mode: 'review' }),
  })('python', 'bench');
  const service = createNetFetch();
  // An authorizer that answers at once: what the checks themselves cost, without the policy service.
  const allowExactly = async () => ({ action: 'allow', rule: 'bench', exact: true });
  const req = { url, method: 'GET', headers: [], body: null };
  const rows = [];
  try {
    // Warm both paths.
    await perCall(() => plainGet(url), 20);
    await perCall(() => service.fetch(req, { authorize }), 20);
    const fetched = [];
    const plain = [];
    const checks = [];
    const bare = [];
    const parses = [];
    const spell = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first, so neither always runs on a warmer machine.
      const pair = [
        async () => fetched.push(await perCall(() => service.fetch(req, { authorize }), FETCHES)),
        async () => plain.push(await perCall(() => plainGet(url), FETCHES)),
      ];
      for (const f of r % 2 ? pair.reverse() : pair) await f();
      checks.push((await perCall(() => checkUrl(url, { authorize }), CHECKS)) * 1000);
      bare.push((await perCall(() => checkUrl(url, { authorize: allowExactly }), CHECKS)) * 1000);
      parses.push((await perCall(async () => new URL(url), CHECKS)) * 1000);
      spell.push((await perCall(async (i) => canonicalHost(spelling(i + r * CHECKS)), CHECKS)) * 1000);
    }
    rows.push({
      metric: 'netFetch per request to a local server (checks + pinned fresh connection)',
      value: round(median(fetched)),
      unit: 'ms',
      baseline: round(median(plain)),
      ratio: round(median(fetched) / median(plain), 2),
      note: `median of ${ROUNDS} interleaved rounds × ${FETCHES}; netFetch ${range(fetched, 'ms')}, baseline http.get without keep-alive ${range(plain, 'ms')}`,
    });
    rows.push({
      metric: 'checkUrl per URL (parse, canonical address, policy on host + address)',
      value: round(median(checks), 2),
      unit: 'µs',
      baseline: round(median(parses), 2),
      ratio: round(median(checks) / median(parses), 1),
      note: `baseline: new URL() alone; the policy service stats its rules file per question; ${range(checks, 'µs', 2)}`,
    });
    rows.push({
      metric: 'checkUrl per URL, checks only (parse, canonical address, range; policy answers at once)',
      value: round(median(bare), 2),
      unit: 'µs',
      baseline: round(median(parses), 2),
      ratio: round(median(bare) / median(parses), 1),
      note: `baseline: new URL() alone; ${range(bare, 'µs', 2)}`,
    });
    rows.push({
      metric: 'canonicalHost per host (uncached; dotted, hex, mapped IPv6, name, short, NAT64)',
      value: round(median(spell), 2),
      unit: 'µs',
      note: range(spell, 'µs', 2),
    });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { name: 'net', rows };
}
