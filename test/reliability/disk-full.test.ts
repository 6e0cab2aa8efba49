// Issue 15 item 5: a full disk under a real daemon. The state dir lives on a small tmpfs the test fills
// and frees (root only, as in CI; otherwise skipped with a note — the injected-fault unit tests of the
// event log cover short writes and ENOSPC everywhere). Typed errors, nothing half-made, and the daemon
// (its logger included) carries on by itself once space is freed.
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditVerify,
  BundlesList,
  ErrorCodes,
  SessionAttach,
  SessionCreate,
  SessionList,
  SessionPrompt,
  ShadowAccept,
} from '@shadowbox/protocol';
import { ensureDaemon } from '@shadowbox/client';
import { loadOrCreateDaemonKey } from '../../daemon/src/audit/keys.js';
import { silentLogger } from '../../daemon/src/state/logger.js';
import { mountSmallDisk, type SmallDisk } from '../../daemon/src/state/test-support.js';
import { makeTempDir, runCli, startTestDaemon, until } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

const disk = mountSmallDisk(96 * 1024 * 1024);
if (!disk) console.log('disk-full e2e: not root, no tmpfs: skipped (event-log and state unit tests inject the faults)');
// A file system out of inodes (files) with bytes to spare: Node's async recursive mkdir reports the level it could not
// make as ENOENT there, which reached a person as an internal error or a missing folder.
const inodes = mountSmallDisk(64 * 1024 * 1024, 4096);
if (!inodes) console.log('inode e2e: not root, no tmpfs: skipped (the bundle store unit tests sweep inodes too)');

let model: ModelServer;
beforeAll(async () => {
  model = await startModelServer();
});
afterAll(async () => {
  await model?.close();
  disk?.unmount();
  inodes?.unmount();
});

/** `shadowbox daemon` on `stateDir`, which must fail: its stderr's lines, after a non-zero exit. */
async function refusedStart(stateDir: string): Promise<string[]> {
  const r = await runCli(['daemon', '--no-web'], {
    ...process.env,
    SHADOWBOX_STATE_DIR: stateDir,
    SHADOWBOX_SOCKET: path.join(stateDir, 'd.sock'),
  });
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  return r.stderr.trim().split('\n');
}

describe.skipIf(!disk)('a full disk under a running daemon', () => {
  const d0 = disk as SmallDisk;

  it('refuses to start on a full state dir with one sentence and a non-zero exit', async () => {
    const stateDir = path.join(d0.dir, 'full-start');
    d0.fill();
    try {
      const lines = await refusedStart(stateDir);
      expect(lines).toEqual([
        expect.stringMatching(
          /^shadowbox daemon: cannot start: the disk holding the state dir .* is full \(\d+ bytes free(, \d+ files free)?\); free some space/,
        ),
      ]);
      // Nothing half-written stays behind (no empty lock a later start would trip on).
      expect(existsSync(path.join(stateDir, 'daemon.lock'))).toBe(false);
    } finally {
      d0.free();
    }
  });

  it('session/create and prompts fail typed, nothing is half-made, and everything recovers once space is freed', async () => {
    const stateDir = path.join(d0.dir, 'running');
    const ws = await makeTempDir('ws');
    const env = {
      ...openaiEnv(model, 'openai/m'),
      SHADOWBOX_LOG_RETRY_MS: '0',
    };
    const d = await startTestDaemon({ stateDir, web: false, env });
    try {
      const c = await d.connect('c');
      const s1 = await c.request(SessionCreate, { workspace: ws });
      model.push(
        { toolCalls: [{ name: 'write_file', arguments: { path: 'a.txt', content: 'one\n' } }] },
        { text: ['ok'] },
      );
      expect((await c.request(SessionPrompt, { sessionId: s1.sessionId, text: 'first' })).stopReason).toBe('end_turn');
      const sessionsBefore = (await c.request(SessionList, {})).sessions.length;
      const dirsBefore = await readdir(path.join(stateDir, 'sessions'));
      // The start's bundle installs (python's warm-up, the tools' jq and sqlite) are done first: one still streaming
      // into the store when the disk fills fails DiskFull and removes its temp folder, which would give back the room
      // this session/create is meant not to find (on a loaded machine they can outlast the first prompt).
      await expect
        .poll(async () => (await c.request(BundlesList, {})).bundles.every((b) => b.installed), { timeout: 120_000 })
        .toBe(true);

      d0.fill();
      const created = await c.request(SessionCreate, { workspace: ws }).catch((e: unknown) => e);
      expect(created).toMatchObject({ code: ErrorCodes.DiskFull, data: { reason: 'disk_full' } });
      const data = (created as { data: { path: string; freeBytes: number } }).data;
      expect(data.path.startsWith(stateDir)).toBe(true);
      expect(typeof data.freeBytes).toBe('number');
      expect((await c.request(SessionList, {})).sessions).toHaveLength(sessionsBefore);
      expect(await readdir(path.join(stateDir, 'sessions'))).toEqual(dirsBefore);
      // Accepting onto a full state disk fails typed too, and the person's folder gets nothing. (Full again
      // first: the refused session/create gave back the pages of what it had begun, and whether the accept's
      // first record then fitted decided which of its steps failed — either must leave the folder as it was.)
      d0.fill();
      const accepted = await c
        .request(ShadowAccept, { sessionId: s1.sessionId, paths: ['a.txt'] })
        .catch((e: unknown) => e);
      expect(accepted).toMatchObject({ code: ErrorCodes.DiskFull, data: { reason: 'disk_full' } });
      expect(existsSync(path.join(ws, 'a.txt'))).toBe(false);

      // A turn still streaming when its events cannot be written is stopped, typed (it would never end
      // by itself: the model stream hangs).
      model.push({ text: Array.from({ length: 50 }, (_, i) => `t${i} `), hang: true });
      const turn = await c
        .request(SessionPrompt, { sessionId: s1.sessionId, text: 'second' })
        .then((r) => r.error?.code ?? r.stopReason)
        .catch((e: { code?: number }) => e.code);
      expect(turn).toBe(ErrorCodes.DiskFull);

      d0.free();
      // The event log writes what waited (no client saw it before) and the turn's end with its reason.
      const again = await c.request(SessionCreate, { workspace: ws });
      expect(again.sessionId).toBeTruthy();
      // (The first attach writes what waited and sends it live; the second has it all as history.)
      await c.request(SessionAttach, { sessionId: s1.sessionId, fromSeq: 0 });
      const h = await c.request(SessionAttach, { sessionId: s1.sessionId, fromSeq: 0 });
      const seqs = h.history.map((e) => e.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i));
      const ends = h.history.filter((e) => e.event.type === 'turn_end').map((e) => e.event);
      expect(ends.at(-1)).toMatchObject({ stopReason: 'error', error: { code: ErrorCodes.DiskFull } });
      // A turn runs normally again, and the audit log is intact.
      model.push(
        { toolCalls: [{ name: 'write_file', arguments: { path: 'b.txt', content: 'two\n' } }] },
        { text: ['ok'] },
      );
      expect((await c.request(SessionPrompt, { sessionId: s1.sessionId, text: 'third' })).stopReason).toBe('end_turn');
      expect(await c.request(AuditVerify, { workspace: ws })).toMatchObject({ ok: true });
      // The logger is back: lines written after the disk was freed reach daemon.log.
      const logFile = path.join(stateDir, 'daemon.log');
      expect(await until(() => /event log writes again/.test(readFileSync(logFile, 'utf8')))).toBe(true);
      // No torn line in any session log.
      for (const id of await readdir(path.join(stateDir, 'sessions'))) {
        const text = await readFile(path.join(stateDir, 'sessions', id, 'events.jsonl'), 'utf8').catch(() => '');
        expect(text === '' || text.endsWith('\n')).toBe(true);
      }
      c.dispose();
    } finally {
      d0.free();
      await d.stop();
      await d.cleanup();
    }
  });

  it('a daemon key created while the disk is full is never left corrupt', async () => {
    const stateDir = path.join(d0.dir, 'key');
    await import('node:fs/promises').then((fs) => fs.mkdir(stateDir, { recursive: true }));
    d0.fill();
    try {
      await expect(loadOrCreateDaemonKey(stateDir, silentLogger)).rejects.toThrow();
      // Either no key file or a whole one: never an empty or half-written key.
      expect(existsSync(path.join(stateDir, 'daemon-key.json'))).toBe(false);
    } finally {
      d0.free();
    }
    const key = await loadOrCreateDaemonKey(stateDir, silentLogger);
    const again = await loadOrCreateDaemonKey(stateDir, silentLogger);
    expect(again.keyId).toBe(key.keyId);
  });
});

// Every step below fails DiskFull or works, at every count of free inodes, and works once they are freed.
describe.skipIf(!inodes)('a file system out of inodes under a running daemon', () => {
  const d0 = inodes as SmallDisk;

  it('refuses to start in a state dir it cannot create, in one sentence that says files, not bytes, ran out', async () => {
    const stateDir = path.join(d0.dir, 'no-inodes', 'deep', 'state');
    d0.fillInodesLeaving(0);
    try {
      expect(await refusedStart(stateDir)).toEqual([
        expect.stringMatching(
          /^shadowbox daemon: cannot start: the disk holding the state dir .* is full \(\d+ bytes free, 0 files free\); free some space/,
        ),
      ]);
    } finally {
      d0.free();
    }
  });

  it("an editor's auto-start says the disk is full, not that a folder is missing", async () => {
    const stateDir = path.join(d0.dir, 'editor', 'state');
    d0.fillInodesLeaving(0);
    try {
      const err = await ensureDaemon({
        socketPath: path.join(stateDir, 'd.sock'),
        stateDir,
        command: [process.execPath, '-e', ''],
        timeoutMs: 2_000,
      }).catch((e: unknown) => e);
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      d0.free();
    }
  });

  it('session/create, accept and an edit fail DiskFull or work at every count of free inodes, and work once freed', async () => {
    const stateDir = path.join(d0.dir, 'running');
    const ws = await makeTempDir('ws');
    const d = await startTestDaemon({ stateDir, web: false, env: { ...openaiEnv(model, 'openai/m') } });
    try {
      const c = await d.connect('c');
      const s = await c.request(SessionCreate, { workspace: ws });
      await expect
        .poll(async () => (await c.request(BundlesList, {})).bundles.every((b) => b.installed), { timeout: 120_000 })
        .toBe(true);
      const outcomes: string[] = [];
      for (let n = 0; n <= 12; n++) {
        // A change in a new folder, made while there is room; then accepted with n inodes free.
        model.push(
          { toolCalls: [{ name: 'write_file', arguments: { path: `d${n}/e/f.txt`, content: `${n}\n` } }] },
          { text: ['ok'] },
        );
        expect((await c.request(SessionPrompt, { sessionId: s.sessionId, text: `w${n}` })).stopReason).toBe('end_turn');
        // Both scripted replies were used: none is left over for the next step.
        expect(model.pending()).toBe(0);
        d0.fillInodesLeaving(n);
        try {
          const created = await c.request(SessionCreate, { workspace: ws }).then(
            () => 'ok',
            (e: { code?: number; data?: { reason?: string } }) => `${e.code}:${e.data?.reason}`,
          );
          const accepted = await c.request(ShadowAccept, { sessionId: s.sessionId, paths: [`d${n}/e/f.txt`] }).then(
            () => 'ok',
            (e: { code?: number; data?: { reason?: string } }) => `${e.code}:${e.data?.reason}`,
          );
          // An edit into a new folder of the shadow (its objects and the session's events): the tool call fails
          // DiskFull or works, the turn ends, or fails DiskFull when its events cannot be written.
          model.push(
            { toolCalls: [{ name: 'write_file', arguments: { path: `p${n}/q/r.txt`, content: `${n}\n` } }] },
            { text: ['ok'] },
          );
          const turn = await c.request(SessionPrompt, { sessionId: s.sessionId, text: `p${n}` }).then(
            (r) => (r.error ? `${r.error.code}:${r.error.reason}` : 'ok'),
            (e: { code?: number; data?: { reason?: string } }) => `${e.code}:${e.data?.reason}`,
          );
          d0.free();
          // This turn's write_file call, found by its path, and how it ended.
          const events = (await c.request(SessionAttach, { sessionId: s.sessionId, fromSeq: 0 })).history.map(
            (e) => e.event,
          );
          const call = events.find(
            (e) => e.type === 'tool_call' && (e.input as { path?: string } | undefined)?.path === `p${n}/q/r.txt`,
          );
          const end =
            call?.type === 'tool_call'
              ? events.find(
                  (e) =>
                    e.type === 'tool_call_update' &&
                    e.callId === call.callId &&
                    (e.status === 'completed' || e.status === 'failed'),
                )
              : undefined;
          expect(end, `p${n}: the write_file call and its end`).toBeDefined();
          const tool = end?.type === 'tool_call_update' && end.status === 'failed' ? `${end.code}:${end.reason}` : 'ok';
          outcomes.push(`${n} create=${created} accept=${accepted} turn=${turn} tool=${tool}`);
          expect(
            [created, accepted, turn, tool].every((o) => o === 'ok' || o === `${ErrorCodes.DiskFull}:disk_full`),
          ).toBe(true);
          // The person's file is there whole or not at all.
          const real = path.join(ws, `d${n}`, 'e', 'f.txt');
          if (accepted === 'ok') expect(readFileSync(real, 'utf8')).toBe(`${n}\n`);
          else expect(existsSync(real)).toBe(false);
        } catch (e) {
          const log = readFileSync(path.join(stateDir, 'daemon.log'), 'utf8').slice(-4000);
          throw new Error(`${outcomes.join('; ')}: ${String(e)}\n--- daemon.log's tail ---\n${log}`, { cause: e });
        } finally {
          d0.free();
        }
      }
      // Something failed for lack of inodes (the sweep reached the steps), and everything works once freed.
      expect(outcomes.some((o) => o.includes('disk_full'))).toBe(true);
      expect((await c.request(SessionCreate, { workspace: ws })).sessionId).toBeTruthy();
      expect(await c.request(AuditVerify, { workspace: ws })).toMatchObject({ ok: true });
      c.dispose();
    } finally {
      d0.free();
      await d.stop();
      await d.cleanup();
    }
    // A daemon's start, its bundle installs and 13 rounds of three requests: more than the e2e default on a loaded
    // machine (no step waits on a clock; this only bounds a hang).
  }, 600_000);
});
