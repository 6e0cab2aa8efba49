// The session event log on a real file: group commit in seq order, events handed out only once on disk,
// a torn tail cut off at open (and said so), and failed or short writes never leave a torn line that
// later lines follow (faults injected by wrapping the real file handle).
import { appendFile, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionEvent } from '@shadowbox/protocol';
import { ErrorCodes } from '@shadowbox/protocol';
import { isShadowboxError } from '../errors.js';
import { EventLog, openEventLog, readEventLog, type LogFile, type OpenLogFile } from './event-log.js';

const SID = 'sess-1';
const delta = (i: number) => ({ type: 'message_delta' as const, turnId: 't', text: `d${i}` });

/** A real file handle whose next writes fail as scripted: ENOSPC, EIO, or a short write then ENOSPC. */
function faultyFs(): {
  openFile: OpenLogFile;
  faults: Array<'enospc' | 'eio' | 'short'>;
  writes: number;
  syncs: number;
} {
  const state = {
    faults: [] as Array<'enospc' | 'eio' | 'short'>,
    writes: 0,
    syncs: 0,
    openFile: null as unknown as OpenLogFile,
  };
  state.openFile = async (file) => {
    const fh = await open(file, 'r+').catch(() => open(file, 'w+', 0o600));
    const f: LogFile = {
      async write(buf, off, len, pos) {
        state.writes++;
        const fault = state.faults.shift();
        if (fault === 'enospc') throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        if (fault === 'eio') throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        if (fault === 'short') {
          // Half the bytes land, the next write of the rest finds the disk full.
          const half = Math.max(1, Math.floor(len / 2));
          const r = await fh.write(buf, off, half, pos);
          state.faults.unshift('enospc');
          return r;
        }
        return fh.write(buf, off, len, pos);
      },
      truncate: (n) => fh.truncate(n),
      datasync: () => (state.syncs++, fh.datasync()),
      close: () => fh.close(),
    };
    return f;
  };
  return state;
}

describe('EventLog', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'evlog-'));
    file = path.join(dir, 'events.jsonl');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes appends in seq order in batches and hands each event out only once it is written', async () => {
    const log = new EventLog(file, 0);
    const handed: SessionEvent[] = [];
    log.bind({
      onDurable: (batch) => {
        for (const e of batch) handed.push(e);
      },
    });
    const appended = Array.from({ length: 50 }, (_, i) => log.append(SID, delta(i)));
    expect(appended.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // Nothing is handed out before the write: the fan-out follows the disk.
    expect(handed).toEqual([]);
    expect(log.durableSeq).toBe(0);
    await log.flush();
    expect(log.durableSeq).toBe(50);
    expect(handed.map((e) => e.seq)).toEqual(appended.map((e) => e.seq));
    // Whatever was handed out is on disk, byte for byte the same event.
    const read = await readEventLog(file);
    expect(read).toMatchObject({ tornTail: false, badLines: 0 });
    expect(read.events).toEqual(handed);
    // An idle log holds no file descriptor.
    expect(log.holdsHandle).toBe(false);
    await log.close();
  });

  it('keeps one descriptor across batches while anyone holds it, and closes it when the last holder lets go', async () => {
    let opens = 0;
    const openFile: OpenLogFile = async (f) => {
      opens++;
      return open(f, 'r+').catch(() => open(f, 'w+', 0o600));
    };
    const log = new EventLog(file, 0, { openFile });
    // A running turn and a direct call hold it at once; each flush is its own batch.
    log.hold(true);
    log.hold(true);
    log.append(SID, delta(0));
    await log.flush();
    log.append(SID, delta(1));
    await log.flush();
    expect(opens).toBe(1);
    log.hold(false);
    // One holder is left: still open, and the next batch needs no new open.
    expect(log.holdsHandle).toBe(true);
    log.append(SID, delta(2));
    await log.flush();
    expect(opens).toBe(1);
    log.hold(false);
    expect(log.holdsHandle).toBe(false);
    // A surplus let-go does not leave the count below zero: a new holder holds again.
    log.hold(false);
    log.hold(true);
    log.append(SID, delta(3));
    await log.flush();
    expect(log.holdsHandle).toBe(true);
    expect(opens).toBe(2);
    log.hold(false);
    expect(log.holdsHandle).toBe(false);
    expect((await readEventLog(file)).events.map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    await log.close();
  });

  it('cuts a torn tail off at open, says so, and the next line starts where the intact prefix ends', async () => {
    const first = new EventLog(file, 0);
    first.append(SID, { type: 'session_created', workspace: '/ws', model: 'openai/t', mode: 'review' });
    first.append(SID, { type: 'user_message', turnId: 't1', text: 'hello', clientId: 'c1' });
    first.append(SID, { type: 'turn_start', turnId: 't1', model: 'openai/t' });
    await first.close();
    const whole = JSON.stringify({ sessionId: SID, seq: 3, time: new Date().toISOString(), event: delta(3) });
    const torn = whole.slice(0, Math.floor(whole.length / 2));
    await appendFile(file, torn);

    const repaired: number[] = [];
    const { log, read } = await openEventLog(file, { onRepair: (n) => repaired.push(n) });
    expect(read.tornTail).toBe(true);
    expect(repaired).toEqual([Buffer.byteLength(torn)]);
    expect(read.events.map((e) => e.event.type)).toEqual(['session_created', 'user_message', 'turn_start']);
    expect(log.nextSeq).toBe(3);
    log.append(SID, { type: 'daemon_restarted', interruptedTurn: 't1' });
    log.append(SID, { type: 'turn_end', turnId: 't1', stopReason: 'interrupted' });
    await log.close();

    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(torn);
    expect(text.endsWith('\n')).toBe(true);
    const again = await readEventLog(file);
    expect(again).toMatchObject({ tornTail: false, badLines: 0 });
    expect(again.events.map((e) => [e.seq, e.event.type])).toEqual([
      [0, 'session_created'],
      [1, 'user_message'],
      [2, 'turn_start'],
      [3, 'daemon_restarted'],
      [4, 'turn_end'],
    ]);
  });

  it('drops a complete last event that lacks its newline (it was never acknowledged) and reuses nothing seen', async () => {
    const ev = {
      sessionId: SID,
      seq: 0,
      time: new Date().toISOString(),
      event: { type: 'turn_start', turnId: 't', model: 'm' },
    };
    await writeFile(file, JSON.stringify(ev));
    const { log, read } = await openEventLog(file);
    expect(read).toMatchObject({ tornTail: true, events: [] });
    expect(log.nextSeq).toBe(0);
    await log.close();
    expect(await readFile(file, 'utf8')).toBe('');
  });

  it('reads a missing file as empty and counts lines that are not events', async () => {
    expect(await readEventLog(path.join(dir, 'nope.jsonl'))).toEqual({
      events: [],
      tornTail: false,
      badLines: 0,
      validBytes: 0,
    });
    const ok = JSON.stringify({ sessionId: SID, seq: 0, time: new Date().toISOString(), event: delta(0) });
    await writeFile(file, `${ok}\n{"not":"an event"}\nnot json\n\n`);
    const read = await readEventLog(file);
    expect(read).toMatchObject({ tornTail: false, badLines: 2 });
    expect(read.events).toHaveLength(1);
  });

  for (const fault of ['enospc', 'eio', 'short'] as const) {
    it(`a ${fault} write is cut off again, its events wait unseen, and the retry writes them whole`, async () => {
      const fs = faultyFs();
      const log = new EventLog(file, 0, { openFile: fs.openFile, retryMs: 60_000 });
      const handed: number[] = [];
      const failures: unknown[] = [];
      log.bind({ onDurable: (b) => handed.push(...b.map((e) => e.seq)), onFailure: (e) => failures.push(e) });
      for (let i = 0; i < 3; i++) log.append(SID, delta(i));
      await log.flush();
      fs.faults.push(fault);
      for (let i = 3; i < 6; i++) log.append(SID, delta(i));
      const err = await log.flush().catch((e: unknown) => e);
      if (fault === 'eio') expect(err).toMatchObject({ code: 'EIO' });
      else expect(isShadowboxError(err, ErrorCodes.DiskFull, 'disk_full')).toBe(true);
      expect(failures).toHaveLength(1);
      // Nobody saw the failed batch, and the file holds only the intact prefix (no torn half line).
      expect(handed).toEqual([0, 1, 2]);
      expect(log.durableSeq).toBe(3);
      const mid = await readEventLog(file);
      expect(mid).toMatchObject({ tornTail: false, badLines: 0 });
      expect(mid.events.map((e) => e.seq)).toEqual([0, 1, 2]);
      // More events queue behind it; a flush (space freed) writes everything, in order.
      log.append(SID, delta(6));
      await log.flush();
      expect(failures.at(-1)).toBeNull();
      expect(handed).toEqual([0, 1, 2, 3, 4, 5, 6]);
      const after = await readEventLog(file);
      expect(after).toMatchObject({ tornTail: false, badLines: 0 });
      expect(after.events.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      await log.close();
    });
  }

  it('fdatasyncs only for those who wait (one fdatasync for all of them), not per streamed batch', async () => {
    const fs = faultyFs();
    const log = new EventLog(file, 0, { openFile: fs.openFile });
    const handed: number[] = [];
    log.bind({ onDurable: (b) => handed.push(...b.map((e) => e.seq)) });
    // A stream: batch after batch reaches the clients with no fdatasync in between.
    for (let i = 0; i < 5; i++) {
      log.append(SID, delta(i));
      while (!handed.includes(i)) await new Promise((r) => setImmediate(r));
    }
    expect(fs.writes).toBe(5);
    expect(fs.syncs).toBe(0);
    // Two waiters at once (a prompt's answer, an attach): one fdatasync covers both.
    log.append(SID, delta(5));
    await Promise.all([log.flush(), log.flush()]);
    expect(fs.syncs).toBe(1);
    await log.flush(); // nothing new: no second fdatasync
    expect(fs.syncs).toBe(1);
    await log.close();
  });

  it('retries a failed batch by itself (the retry timer), without anyone flushing', async () => {
    const fs = faultyFs();
    const log = new EventLog(file, 0, { openFile: fs.openFile, retryMs: 1 });
    let recovered!: () => void;
    const back = new Promise<void>((r) => (recovered = r));
    log.bind({ onFailure: (e) => e === null && recovered() });
    fs.faults.push('enospc', 'enospc');
    log.append(SID, delta(0));
    await back;
    expect(fs.writes).toBe(3);
    expect((await readEventLog(file)).events.map((e) => e.seq)).toEqual([0]);
    await log.close();
  });
});
