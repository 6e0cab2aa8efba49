// The ACP bridge as a relay (issue 20): `shadowbox acp` runs with V8 flags that cut its memory (no
// optimizing compiler, a young generation that does not grow; daemon/bin/shadowbox.js). These rows check
// that the flags do not slow what the bridge does all day: a prompt whose reply streams as many
// `session/update`s, relayed daemon → bridge → editor. Two long-lived bridges on one daemon, one with the
// flags and one with Node's defaults (SHADOWBOX_ACP_V8_FLAGS=''), take turns prompt by prompt (the order
// flips every round); then each one's RSS. And the native launcher (daemon/bin/shadowbox acp), which relays the
// editor to the bridge the daemon hosts, against the Node bridge with its flags: the same prompts, the bridge's work
// now done on the daemon's event loop.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startModelServer } from '../daemon/dist/demo/model-server/index.js';
import { bin, launcher, NO_NODE_PATH, startDaemon } from './lib/daemon.mjs';
import { interleaveMeasured, row, stats } from './lib/interleave.mjs';
import { ndjsonPeer } from './lib/ndjson-peer.mjs';

const CHUNKS = 2000;
const ROUNDS = 9;
const rssMiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;

/** A bridge process driven as an editor: line-delimited JSON-RPC on its stdio, updates counted. */
function editor(env, native = false) {
  let updates = 0;
  const count = (msg) => {
    if (msg.method === 'session/update') updates++;
  };
  // The launcher with no node on PATH: a hand-over to the Node bridge would fail.
  const peer = native
    ? ndjsonPeer(['acp'], { ...env, PATH: NO_NODE_PATH }, count, launcher)
    : ndjsonPeer([bin, 'acp'], env, count);
  return {
    ...peer,
    get updates() {
      return updates;
    },
  };
}

export async function run() {
  const rows = [];
  const model = await startModelServer();
  const d = await startDaemon(
    { SHADOWBOX_MODEL: 'openai/bench', OPENAI_BASE_URL: `${model.url}/v1`, OPENAI_API_KEY: 'k' },
    ['--no-web'],
  );
  const ws = mkdtempSync(path.join(os.tmpdir(), 'sbacp-ws-'));
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'sbacp-cache-'));
  const env = { ...d.env, SHADOWBOX_CACHE_DIR: cacheDir };
  delete env.NODE_OPTIONS;
  const editors = [];
  try {
    const open = async (extra, native = false) => {
      const e = editor({ ...env, ...extra }, native);
      editors.push(e);
      await e.call('initialize', { protocolVersion: 1, clientCapabilities: {} });
      const { sessionId } = await e.call('session/new', { cwd: ws, mcpServers: [] });
      return { e, sessionId };
    };
    const tuned = await open({});
    // Its own cache folder: V8 refuses a code cache made under other flags.
    const plain = await open({ SHADOWBOX_ACP_V8_FLAGS: '', SHADOWBOX_CACHE_DIR: path.join(cacheDir, 'plain') });
    const text = Array.from({ length: CHUNKS }, (_, i) => `t${i} `);
    /** One prompt whose reply streams CHUNKS deltas; ms from the prompt to its answer, every update received. */
    const relay = async ({ e, sessionId }) => {
      model.push({ text });
      const before = e.updates;
      const t = performance.now();
      const r = await e.call('session/prompt', { sessionId, prompt: [{ type: 'text', text: 'stream' }] });
      const ms = performance.now() - t;
      if (r.stopReason !== 'end_turn') throw new Error(`stopReason ${r.stopReason}`);
      if (e.updates - before < CHUNKS) throw new Error(`${e.updates - before} updates for ${CHUNKS} chunks`);
      return ms;
    };
    await relay(tuned);
    await relay(plain);
    // Each bridge's RSS is read right after each of its prompts; the row gives the readings after its last five.
    const rss = { tuned: [], plain: [] };
    const relayRead = (b, into) => async () => {
      const ms = await relay(b);
      into.push(rssMiB(b.e.child.pid));
      return ms;
    };
    const timed = await interleaveMeasured(ROUNDS, relayRead(tuned, rss.tuned), relayRead(plain, rss.plain));
    rows.push(
      row(
        `ACP bridge relays a ${CHUNKS}-chunk reply, prompt → end_turn`,
        timed,
        `the bridge's V8 flags (--no-opt --semi-space-growth-factor=1 --optimize-for-size) vs the same bridge with Node's defaults, both long-lived, prompt by prompt`,
      ),
      row(
        `ACP bridge RSS after each of its prompts ${ROUNDS - 3}–${ROUNDS + 1} of such replies`,
        { subject: stats(rss.tuned.slice(-5)), baseline: stats(rss.plain.slice(-5)) },
        'the same two bridges, read right after each of their last five prompts above',
        'MiB',
      ),
    );
    if (launcher) {
      const relayed = await open({}, true);
      await relay(relayed);
      rows.push(
        row(
          `ACP bridge relays a ${CHUNKS}-chunk reply through the native launcher, prompt → end_turn`,
          await interleaveMeasured(
            ROUNDS,
            () => relay(relayed),
            () => relay(tuned),
          ),
          'the launcher relaying to the bridge the daemon hosts vs the Node bridge (its V8 flags), both long-lived',
        ),
      );
    }
  } finally {
    for (const e of editors) await e.close();
    await d.stop();
    await model.close();
    rmSync(ws, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  }
  return { name: 'acp', rows };
}
