import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../state/index.js';
import { entryHash } from './canonical.js';
import { auditFiles, createAuditLog, daemonKeyPath, type AuditLog, type AuditLogDeps } from './index.js';

let stateDir: string;
const ws = '/work/some project';
let logs: AuditLog[] = [];
const make = (over: Partial<AuditLogDeps> = {}) => {
  const l = createAuditLog({ stateDir, logger: silentLogger, checkpointIdleMs: 0, checkpointEvery: 4, ...over });
  logs.push(l);
  return l;
};

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'sbx-audit-'));
  logs = [];
});
afterEach(async () => {
  for (const l of logs) await l.close().catch(() => undefined);
  await rm(stateDir, { recursive: true, force: true });
});

/** Writes n tool.call entries and closes; returns the log's lines. */
async function fill(n: number, over: Partial<AuditLogDeps> = {}): Promise<string[]> {
  const log = make(over);
  for (let i = 0; i < n; i++)
    await log.append({
      type: 'tool.call',
      workspace: ws,
      sessionId: i % 2 ? 's1' : 's2',
      data: { tool: i % 3 ? 'read_file' : 'grep', i },
    });
  await log.close();
  return readLines();
}
const file = () => auditFiles(stateDir, ws).log;
const readLines = async () => (await readFile(file(), 'utf8')).split('\n').filter(Boolean);
const writeLines = (lines: string[]) => writeFile(file(), lines.map((l) => l + '\n').join(''));
const isEntry = (l: string) => !l.startsWith('{"checkpoint"');
const verify = () => make().verify(ws);

describe('append, query, chain', () => {
  it('appends hash-chained entries with consecutive seqs and signed checkpoints; verify passes', async () => {
    const lines = await fill(10);
    const entries = lines.filter(isEntry).map((l) => JSON.parse(l) as { seq: number; prevHash: string; hash: string });
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 1; i < entries.length; i++) expect(entries[i].prevHash).toBe(entries[i - 1].hash);
    // after the first entry (a new log is signed at once), then every 4 entries, plus one at close for the last
    expect(
      lines.filter((l) => !isEntry(l)).map((l) => (JSON.parse(l) as { checkpoint: { seq: number } }).checkpoint.seq),
    ).toEqual([1, 5, 9, 10]);
    expect(await verify()).toEqual({ ok: true, entries: 10, checkpoints: 4 });
    expect((await stat(file())).mode & 0o777).toBe(0o600);
    expect((await stat(daemonKeyPath(stateDir))).mode & 0o777).toBe(0o600);
  });

  it('queries with filters, newest last, capped by limit', async () => {
    await fill(12);
    const log = make();
    expect((await log.query({ workspace: ws, limit: 1000 })).entries).toHaveLength(12);
    expect(
      (await log.query({ workspace: ws, sessionId: 's1', limit: 1000 })).entries.every((e) => e.sessionId === 's1'),
    ).toBe(true);
    const grep = await log.query({ workspace: ws, tool: 'grep', limit: 1000 });
    expect(grep.entries.map((e) => e.data.i)).toEqual([0, 3, 6, 9]);
    expect((await log.query({ workspace: ws, limit: 3 })).entries.map((e) => e.seq)).toEqual([10, 11, 12]);
    expect((await log.query({ workspace: ws, type: 'nope', limit: 10 })).entries).toEqual([]);
    expect((await log.query({ workspace: '/elsewhere', limit: 10 })).entries).toEqual([]);
  });

  it('continues the chain across restarts', async () => {
    await fill(3);
    await fill(3);
    const r = await verify();
    expect(r).toMatchObject({ ok: true, entries: 6 });
    expect((await make().query({ workspace: ws, limit: 10 })).entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('concurrent appends from many callers never interleave or fork the chain; workspaces are separate', async () => {
    const log = make({ checkpointEvery: 50 });
    const other = '/work/other';
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        log.append({ type: 'tool.call', workspace: i % 5 ? ws : other, data: { i, text: 'x'.repeat(i % 300) } }),
      ),
    );
    const seen = await log.query({ workspace: ws, limit: 1000 });
    expect(seen.entries.map((e) => e.seq)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(await log.verify(ws)).toMatchObject({ ok: true, entries: 400 });
    expect(await log.verify(other)).toMatchObject({ ok: true, entries: 100 });
  });

  it('redacts secrets and caps data before hashing', async () => {
    const log = make();
    await log.append({
      type: 'net.fetch',
      workspace: ws,
      data: {
        url: 'https://x.org/?token=abc123',
        headers: { authorization: 'Bearer zzzzzzzzzzzz' },
        body: 'y'.repeat(100_000),
      },
    });
    const text = await readFile(file(), 'utf8');
    expect(text).not.toContain('abc123');
    expect(text).not.toContain('zzzzzzzzzzzz');
    expect(text.length).toBeLessThan(20_000);
    expect(await log.verify(ws)).toMatchObject({ ok: true });
  });

  it('"every" durability and the idle checkpoint', async () => {
    const log = make({ durability: 'every', checkpointEvery: 1000, checkpointIdleMs: 30 });
    const checkpoints = async () => (await readLines()).filter((l) => !isEntry(l));
    const head = async (): Promise<unknown> => JSON.parse(await readFile(auditFiles(stateDir, ws).head, 'utf8'));
    // The first entry is signed at once, after its append has returned: waited for, not slept on (a datasync
    // on a loaded machine outlasts any fixed sleep).
    await log.append({ type: 'session.start', workspace: ws, sessionId: 's', data: {} });
    await expect.poll(checkpoints).toHaveLength(1);
    expect(await head()).toMatchObject({ seq: 1 });
    // A later entry is signed once the log has been idle for checkpointIdleMs.
    await log.append({ type: 'session.end', workspace: ws, sessionId: 's', data: {} });
    await expect.poll(checkpoints).toHaveLength(2);
    expect(await head()).toMatchObject({ seq: 2 });
  });

  it('refuses appends after close', async () => {
    const log = make();
    await log.close();
    await expect(log.append({ type: 'x', workspace: ws, data: {} })).rejects.toMatchObject({
      data: { reason: 'audit_closed' },
    });
  });
});

describe('verify names the first bad entry', () => {
  it('edited field', async () => {
    const lines = await fill(10);
    const i = lines.findIndex((l) => l.includes('"seq":6,'));
    lines[i] = lines[i].replace('"i":5', '"i":55');
    await writeLines(lines);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 6, line: i + 1, reason: 'hash_mismatch' } });
  });

  it('deleted line', async () => {
    const lines = await fill(10);
    const i = lines.findIndex((l) => l.includes('"seq":3,'));
    lines.splice(i, 1);
    await writeLines(lines);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 3, line: i + 1, reason: 'missing_entry' } });
  });

  it('inserted line (a copy of an earlier entry)', async () => {
    const lines = await fill(10);
    const i = lines.findIndex((l) => l.includes('"seq":7,'));
    lines.splice(i, 0, lines[0]);
    await writeLines(lines);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 1, line: i + 1, reason: 'inserted_entry' } });
  });

  it('inserted line (forged with the right seq and its own hash)', async () => {
    const lines = await fill(10);
    const i = lines.findIndex((l) => l.includes('"seq":7,'));
    const prev = JSON.parse(lines[i]) as { prevHash: string };
    const forged: Record<string, unknown> = {
      seq: 7,
      time: new Date().toISOString(),
      type: 'tool.call',
      data: { tool: 'forged' },
      prevHash: prev.prevHash,
    };
    forged.hash = entryHash(forged as never);
    lines.splice(i, 0, JSON.stringify(forged));
    await writeLines(lines);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 7, line: i + 2, reason: 'inserted_entry' } });
  });

  it('reordered lines', async () => {
    const lines = await fill(10);
    const a = lines.findIndex((l) => l.includes('"seq":5,'));
    const b = lines.findIndex((l) => l.includes('"seq":6,'));
    [lines[a], lines[b]] = [lines[b], lines[a]];
    await writeLines(lines);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 6, line: a + 1, reason: 'reordered' } });
  });

  it('truncated tail: the signed head says more existed', async () => {
    const lines = await fill(10);
    const i = lines.findIndex((l) => l.includes('"seq":8,'));
    await writeLines(lines.slice(0, i));
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 8, line: i + 1, reason: 'truncated_tail' } });
    // and the log file removed entirely
    await unlink(file());
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 1, reason: 'truncated_tail' } });
  });

  it('a truncation stays reported after the daemon appends again', async () => {
    const lines = await fill(10);
    await writeLines(
      lines.slice(
        0,
        lines.findIndex((l) => l.includes('"seq":8,')),
      ),
    );
    await fill(5);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 8, reason: 'truncated_tail' } });
  });

  it('the whole chain rewritten after an edit is caught by the signed checkpoints', async () => {
    const lines = await fill(10);
    let prevHash: string | null = null;
    const out = lines.map((l) => {
      if (!isEntry(l)) return l;
      const e = JSON.parse(l) as Record<string, unknown> & { seq: number; data: Record<string, unknown> };
      if (e.seq === 2) e.data.tool = 'write_file';
      if (prevHash) e.prevHash = prevHash;
      delete e.hash;
      e.hash = entryHash(e as never);
      prevHash = e.hash as string;
      return JSON.stringify(e);
    });
    await writeLines(out);
    const r = await verify();
    expect(r).toMatchObject({ ok: false, firstBad: { seq: 5, reason: 'checkpoint_mismatch' } });
  });

  it('bad signature on a checkpoint line', async () => {
    const lines = await fill(10);
    const i = lines.findIndex((l) => !isEntry(l));
    lines[i] = lines[i].replace(/"sig":"(.)/, (_, c: string) => `"sig":"${c === '0' ? '1' : '0'}`);
    await writeLines(lines);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 1, line: i + 1, reason: 'bad_signature' } });
  });

  it('a replaced daemon key makes every checkpoint fail', async () => {
    await fill(5);
    await unlink(daemonKeyPath(stateDir));
    const l = make();
    await l.append({ type: 'x', workspace: '/other', data: {} }); // generates a new key
    expect(await l.verify(ws)).toMatchObject({ ok: false, firstBad: { reason: 'bad_signature' } });
  });

  it('torn last line: reported by verify, then repaired and recorded on the next start', async () => {
    await fill(6);
    await appendFile(file(), '{"seq":7,"time":"2025-');
    const lines = await readLines();
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 7, line: lines.length, reason: 'torn_line' } });
    const log = make();
    await log.append({ type: 'session.start', workspace: ws, sessionId: 's9', data: {} });
    const all = await log.query({ workspace: ws, limit: 100 });
    expect(all.entries.map((e) => e.type).slice(-2)).toEqual(['audit.torn_tail', 'session.start']);
    expect(all.entries.at(-2)?.data).toMatchObject({ afterSeq: 6, bytes: 22 });
    const saved = (await readdir(auditFiles(stateDir, ws).dir)).filter((f) => f.startsWith('audit.torn-'));
    expect(await readFile(path.join(auditFiles(stateDir, ws).dir, saved[0]), 'utf8')).toBe('{"seq":7,"time":"2025-');
    expect(await log.verify(ws)).toMatchObject({ ok: true, entries: 8 });
  });

  it('a write torn at any byte is reported and then repaired', async () => {
    const lines = await fill(2, { checkpointEvery: 1000 });
    const whole = lines.filter(isEntry);
    const last = whole.at(-1)!;
    for (const cut of [1, 10, Math.floor(last.length / 2), last.length - 1]) {
      await writeFile(file(), whole[0] + '\n' + last.slice(0, cut));
      await unlink(auditFiles(stateDir, ws).head).catch(() => undefined);
      expect((await verify()).firstBad, `cut ${cut}`).toMatchObject({ seq: 2, line: 2, reason: 'torn_line' });
      const log = make();
      await log.append({ type: 'after', workspace: ws, data: {} });
      const types = (await log.query({ workspace: ws, limit: 10 })).entries.map((e) => e.type);
      expect(types, `cut ${cut}`).toEqual(['tool.call', 'audit.torn_tail', 'after']);
      expect(await log.verify(ws), `cut ${cut}`).toMatchObject({ ok: true });
      await log.close();
    }
  });

  it('a complete last entry missing only its newline is kept, not discarded', async () => {
    const lines = await fill(3);
    const last = lines.findLastIndex(isEntry);
    await writeFile(file(), lines.slice(0, last + 1).join('\n')); // drop the close checkpoint, no final newline
    expect((await verify()).firstBad?.reason).toBe('torn_line');
    const log = make();
    await log.append({ type: 'x', workspace: ws, data: {} });
    expect((await log.query({ workspace: ws, limit: 10 })).entries.map((e) => e.type)).toEqual([
      'tool.call',
      'tool.call',
      'tool.call',
      'x',
    ]);
    expect(await log.verify(ws)).toMatchObject({ ok: true });
  });

  it('an entry edited and re-hashed on its own breaks the chain at the next entry', async () => {
    const lines = await fill(10);
    const i = lines.findIndex((l) => l.includes('"seq":2,'));
    const e = JSON.parse(lines[i]) as Record<string, unknown> & { data: Record<string, unknown> };
    e.data.tool = 'write_file';
    delete e.hash;
    e.hash = entryHash(e as never);
    lines[i] = JSON.stringify(e);
    await writeLines(lines);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 3, line: i + 2, reason: 'chain_broken' } });
  });

  it('garbage in the middle, a non-entry object, and a corrupt head', async () => {
    const lines = await fill(6);
    await writeLines([...lines.slice(0, 2), 'not json', ...lines.slice(2)]);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: null, line: 3, reason: 'unparseable_line' } });
    await writeLines([...lines.slice(0, 2), '{"hello":1}', ...lines.slice(2)]);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: null, line: 3, reason: 'malformed_entry' } });
    await writeLines(lines);
    expect(await verify()).toMatchObject({ ok: true });
    await writeFile(auditFiles(stateDir, ws).head, '{"v":1');
    expect(await verify()).toMatchObject({ ok: false, firstBad: { reason: 'head_corrupt' } });
  });

  it('a deleted head file is reported when checkpoints exist', async () => {
    await fill(5);
    await unlink(auditFiles(stateDir, ws).head);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { reason: 'head_missing' } });
  });

  it('a crash between checkpoints loses nothing: the unsigned tail is reported, fails --strict, and is signed at the next start', async () => {
    const log = make({ checkpointEvery: 100 });
    for (let i = 0; i < 5; i++) await log.append({ type: 'tool.call', workspace: ws, data: { i } });
    // no close: as after kill -9, the entries are in the file but only the first is signed
    const fresh = () => createAuditLog({ stateDir, logger: silentLogger });
    expect(await fresh().verify(ws)).toEqual({
      ok: true,
      entries: 5,
      checkpoints: 1,
      unsignedTail: { count: 4, fromSeq: 2, toSeq: 5 },
    });
    expect(await fresh().verify(ws, { strict: true })).toMatchObject({
      ok: false,
      firstBad: { seq: 2, reason: 'unsigned_tail' },
      unsignedTail: { count: 4 },
    });
    // The next writer authenticates the tail (every entry carries the key's mac) and signs it at open.
    const next = make();
    await next.append({ type: 'after', workspace: ws, data: {} });
    await next.seal(ws);
    expect(await next.verify(ws, { strict: true })).toEqual({ ok: true, entries: 6, checkpoints: 3 });
    // An emptied log is not an empty one: the signed head still says what it held.
    await next.close();
    await truncate(file(), 0);
    expect(await fresh().verify(ws)).toMatchObject({ ok: false, firstBad: { seq: 1, reason: 'truncated_tail' } });
  });
});
