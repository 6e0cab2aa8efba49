// Issue 14 §3, reproduced: (a) a forged entry appended with a correct hash chain verified as intact;
// (b) entries after the last checkpoint replaced — intact; (c) head deleted, checkpoints stripped, an
// entry edited and every hash recomputed — intact; (d) the log cut at a checkpoint and that checkpoint
// written as the head — intact, tail silently gone. After a restart the writer signed over a forged chain.
// Also: the key file is never half-written, a full disk is the typed DiskFull, write-ahead refusals.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../state/index.js';
import { entryHash, genesisHash } from './canonical.js';
import {
  auditFiles,
  createAuditLog,
  daemonKeyPath,
  type AuditLog,
  type AuditLogDeps,
  type AuditReference,
} from './index.js';

let stateDir: string;
const ws = '/work/tampered';
let logs: AuditLog[] = [];
let refs: AuditReference[] = [];
const make = (over: Partial<AuditLogDeps> = {}) => {
  const l = createAuditLog({
    stateDir,
    logger: silentLogger,
    checkpointIdleMs: 0,
    checkpointEvery: 4,
    references: async () => refs,
    ...over,
  });
  logs.push(l);
  return l;
};
beforeEach(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'sbx-tamper-'));
  logs = [];
  refs = [];
});
afterEach(async () => {
  for (const l of logs) await l.close().catch(() => undefined);
  await rm(stateDir, { recursive: true, force: true });
});

type Raw = Record<string, unknown> & { seq: number; hash?: string; prevHash: string; data: Record<string, unknown> };
const files = () => auditFiles(stateDir, ws);
const readLines = async () => (await readFile(files().log, 'utf8')).split('\n').filter(Boolean);
const writeLines = (lines: string[]) => writeFile(files().log, lines.map((l) => l + '\n').join(''));
const isEntry = (l: string) => !l.startsWith('{"checkpoint"');
const verify = (o?: { strict?: boolean }) => make().verify(ws, o);

/** Writes n calls (callIds c1…cn) and closes: every entry signed. */
async function fill(n: number): Promise<string[]> {
  const log = make();
  for (let i = 1; i <= n; i++)
    await log.append({
      type: 'tool.call',
      workspace: ws,
      sessionId: 's1',
      data: { tool: 'read_file', callId: `c${i}` },
    });
  await log.close();
  return readLines();
}

/** An entry as someone without the key would write it: right seq, prevHash and hash; no (valid) mac. */
function forge(seq: number, prevHash: string, data: Record<string, unknown>, mac?: string): Raw {
  const e: Raw = { seq, time: new Date().toISOString(), type: 'tool.call', data, prevHash };
  e.hash = entryHash(e as never);
  if (mac) e.mac = mac;
  return e;
}

describe('the audit log cannot be rewritten without the key', () => {
  it('(a) a forged entry appended with a correct chain fails verification, and a restart does not sign over it', async () => {
    const lines = await fill(6);
    const last = JSON.parse(lines.filter(isEntry).at(-1) as string) as Raw;
    await writeLines([
      ...lines,
      JSON.stringify(forge(7, last.hash as string, { tool: 'write_file', callId: 'forged' }, 'ab'.repeat(32))),
    ]);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 7, reason: 'bad_mac' } });
    // The next writer refuses to extend it: the forged log is moved aside, a new signed segment records why.
    const log = make();
    await log.append({ type: 'after', workspace: ws, data: {} });
    const r = await log.verify(ws);
    expect(r).toMatchObject({
      ok: false,
      firstBad: { seq: 7, reason: 'bad_mac' },
      breaks: [{ seq: 7, reason: 'bad_mac' }],
    });
    const now = await readLines();
    expect(now.some((l) => l.includes('forged'))).toBe(false);
    const broken = JSON.parse(now[0]) as Raw;
    expect(broken).toMatchObject({
      seq: 8,
      type: 'audit.chain_broken',
      data: { reason: 'bad_mac', seq: 7, lastSeq: 6 },
    });
    const moved = (await readdir(files().dir)).filter((f) => f.startsWith('audit.broken-'));
    expect(moved.sort()).toEqual([expect.stringMatching(/\.head\.json$/), expect.stringMatching(/\.jsonl$/)].sort());
    const kept = await readFile(path.join(files().dir, moved.find((f) => f.endsWith('.jsonl')) as string), 'utf8');
    expect(kept).toContain('forged');
    expect((broken.data.previous as { bytes: number }).bytes).toBe(Buffer.byteLength(kept));
  });

  it('(b) entries replaced after the last checkpoint fail verification', async () => {
    const log = make({ checkpointEvery: 100 });
    for (let i = 1; i <= 5; i++) await log.append({ type: 'tool.call', workspace: ws, data: { callId: `c${i}` } });
    const lines = await readLines(); // seq 1 signed (a new log is signed at once), 2..5 not yet
    const entries = lines.filter(isEntry).map((l) => JSON.parse(l) as Raw);
    let prev = entries[0].hash as string;
    const replaced = entries.slice(1).map((e) => {
      const f = forge(e.seq, prev, { ...e.data, tool: 'innocent' }, e.mac as string);
      prev = f.hash as string;
      return JSON.stringify(f);
    });
    await writeLines([...lines.filter((l) => !isEntry(l) || (JSON.parse(l) as Raw).seq === 1), ...replaced]);
    expect(await createAuditLog({ stateDir, logger: silentLogger }).verify(ws)).toMatchObject({
      ok: false,
      firstBad: { seq: 2, reason: 'bad_mac' },
    });
  });

  it('(c) head deleted, checkpoints stripped, an entry edited and every hash recomputed: fails, and is not re-signed', async () => {
    const lines = await fill(8);
    let prev = genesisHash(ws);
    const rewritten = lines.filter(isEntry).map((l) => {
      const e = JSON.parse(l) as Raw;
      if (e.seq === 3) e.data.tool = 'nothing_to_see';
      e.prevHash = prev;
      delete e.hash;
      e.hash = entryHash(e as never);
      prev = e.hash;
      return JSON.stringify(e);
    });
    await writeLines(rewritten);
    await rm(files().head);
    const r = await verify();
    expect(r.ok).toBe(false);
    expect(['head_missing', 'bad_mac']).toContain(r.firstBad?.reason);
    const log = make();
    await log.append({ type: 'after', workspace: ws, data: {} });
    expect(await log.verify(ws)).toMatchObject({ ok: false, breaks: [{ seq: 3, reason: 'bad_mac' }] });
  });

  it('a non-empty log without a signed head fails, even with no checkpoint lines in it', async () => {
    const lines = await fill(3);
    await writeLines(lines.filter(isEntry));
    await rm(files().head);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { reason: 'head_missing' } });
  });

  it('(d) the log cut at a checkpoint with that checkpoint as the head: the sessions still remember the calls', async () => {
    const lines = await fill(10);
    refs = [8, 9, 10].map((seq) => ({ sessionId: 's1', callId: `c${seq}`, seq }));
    const cut = lines.findIndex(
      (l) => !isEntry(l) && (JSON.parse(l) as { checkpoint: { seq: number } }).checkpoint.seq === 5,
    );
    const cp = (JSON.parse(lines[cut]) as { checkpoint: unknown }).checkpoint;
    await writeLines(lines.slice(0, cut + 1));
    await writeFile(files().head, JSON.stringify(cp) + '\n');
    expect(await verify()).toMatchObject({
      ok: false,
      firstBad: { seq: 6, reason: 'truncated_tail', sessionId: 's1' },
    });
    // Without the second ledger the cut is invisible; that is why the sessions keep the seqs.
    expect(await make({ references: async () => [] }).verify(ws)).toMatchObject({ ok: true });
    const log = make();
    await log.append({ type: 'after', workspace: ws, data: {} });
    expect(await log.verify(ws)).toMatchObject({ ok: false, breaks: [{ seq: 6, reason: 'truncated_tail' }] });
    // The new segment starts past every seq anyone referred to, so no reference lands on a new entry.
    expect((JSON.parse((await readLines())[0]) as Raw).seq).toBe(11);
  });

  it('a reference to an entry that records another call is a mismatch', async () => {
    await fill(4);
    refs = [{ sessionId: 's9', callId: 'someone-else', seq: 2 }];
    expect(await verify()).toMatchObject({
      ok: false,
      firstBad: { seq: 2, reason: 'reference_mismatch', sessionId: 's9' },
    });
  });

  it('seal signs the unsigned tail; strict verify passes afterwards', async () => {
    const log = make({ checkpointEvery: 100 });
    for (let i = 1; i <= 3; i++) await log.append({ type: 'tool.call', workspace: ws, data: { callId: `c${i}` } });
    expect(await log.verify(ws, { strict: true })).toMatchObject({
      ok: false,
      firstBad: { reason: 'unsigned_tail', seq: 2 },
    });
    await log.seal(ws);
    expect(await log.verify(ws, { strict: true })).toEqual({ ok: true, entries: 3, checkpoints: 2 });
  });
});

describe('the daemon key', () => {
  it('is created whole (no temp file left), 0600, and a second creator gets the same key', async () => {
    const [a, b] = [make(), make()];
    await Promise.all([
      a.append({ type: 'x', workspace: ws, data: {} }),
      b.append({ type: 'x', workspace: '/other', data: {} }),
    ]);
    expect((await readdir(stateDir)).filter((f) => f.includes('daemon-key'))).toEqual(['daemon-key.json']);
    const key = JSON.parse(await readFile(daemonKeyPath(stateDir), 'utf8')) as { public: string };
    expect(key.public).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a corrupt key is reported, never overwritten, and nothing is appended', async () => {
    await writeFile(daemonKeyPath(stateDir), '{"keytype":"ed25519","pub', { mode: 0o600 });
    await expect(make().append({ type: 'x', workspace: ws, data: {} })).rejects.toMatchObject({
      data: { reason: 'key_corrupt' },
    });
    expect(await readFile(daemonKeyPath(stateDir), 'utf8')).toBe('{"keytype":"ed25519","pub');
  });
});

/** A real tmpfs (root only); null when it cannot be mounted here. */
function smallDisk(bytes: number): { dir: string; fill(): void; unmount(): void } | null {
  if (process.getuid?.() !== 0) return null;
  const dir = execFileSync('mktemp', ['-d', path.join(os.tmpdir(), 'sbx-full-XXXXXX')])
    .toString()
    .trim();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    execFileSync('rmdir', [dir]);
    return null;
  }
  return {
    dir,
    fill: () => {
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${path.join(dir, '.filler')}`, 'bs=4k'], { stdio: 'ignore' });
      } catch {
        /* dd stops at ENOSPC */
      }
    },
    unmount: () => execFileSync('umount', ['-l', dir], { stdio: 'ignore' }),
  };
}

describe('a full disk', () => {
  it('an append that cannot be written is the typed DiskFull, and the log verifies once space is back', async () => {
    const disk = smallDisk(256 * 1024);
    if (!disk) {
      console.log('skipped: cannot mount a tmpfs here (needs root)');
      return;
    }
    try {
      const log = createAuditLog({ stateDir: disk.dir, logger: silentLogger, checkpointIdleMs: 0 });
      logs.push(log);
      await log.append({ type: 'before', workspace: ws, data: {} });
      disk.fill();
      const err = await log
        .append({
          type: 'lost',
          workspace: ws,
          // ~13 KiB: more than the free room left in the log file's last page.
          data: Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`k${i}`, 'x'.repeat(1900)])),
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toMatchObject({ code: -33900, data: { reason: 'disk_full', path: auditFiles(disk.dir, ws).log } });
      await rm(path.join(disk.dir, '.filler'));
      await log.append({ type: 'after', workspace: ws, data: {} });
      await log.seal(ws);
      const r = await log.verify(ws, { strict: true });
      expect(r).toMatchObject({ ok: true });
      const types = (await log.query({ workspace: ws, limit: 10 })).entries.map((e) => e.type);
      expect(types).not.toContain('lost');
    } finally {
      await logs
        .pop()
        ?.close()
        .catch(() => undefined);
      disk.unmount();
      await rm(disk.dir, { recursive: true, force: true });
    }
  });
});
