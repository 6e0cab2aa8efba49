// The session event log on a real file: appends in seq order, a torn last line after a crash is
// reported (not silently dropped) and the next append starts on a fresh line.
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog, readEventLog } from './event-log.js';

const SID = 'sess-1';

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

  it('writes appends in seq order even when they are not awaited one by one', async () => {
    const log = new EventLog(file, 0);
    const written = Array.from({ length: 50 }, (_, i) =>
      log.append(SID, { type: 'message_delta', turnId: 't', text: `d${i}` }),
    );
    expect(written.map((w) => w.event.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await Promise.all(written.map((w) => w.written));
    await log.close();
    const read = await readEventLog(file);
    expect(read).toMatchObject({ tornTail: false, badLines: 0 });
    expect(read.events.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(read.events.map((e) => (e.event.type === 'message_delta' ? e.event.text : ''))).toEqual(
      Array.from({ length: 50 }, (_, i) => `d${i}`),
    );
    expect(log.nextSeq).toBe(50);
  });

  it('reports a torn last line, keeps the events before it, and starts the next append on a fresh line', async () => {
    const log = new EventLog(file, 0);
    log.append(SID, { type: 'session_created', workspace: '/ws', model: 'openai/t', mode: 'review' });
    log.append(SID, { type: 'user_message', turnId: 't1', text: 'hello', clientId: 'c1' });
    log.append(SID, { type: 'turn_start', turnId: 't1', model: 'openai/t' });
    await log.close();
    // A crash mid-write: half of the next line, no newline.
    const whole = JSON.stringify({
      sessionId: SID,
      seq: 3,
      time: new Date().toISOString(),
      event: { type: 'message_delta', turnId: 't1', text: 'partial' },
    });
    await appendFile(file, whole.slice(0, Math.floor(whole.length / 2)));

    const read = await readEventLog(file);
    expect(read.tornTail).toBe(true);
    expect(read.badLines).toBe(1);
    expect(read.events.map((e) => e.event.type)).toEqual(['session_created', 'user_message', 'turn_start']);

    const reopened = new EventLog(file, read.events[read.events.length - 1].seq + 1, read.tornTail);
    const { event, written } = reopened.append(SID, { type: 'daemon_restarted', interruptedTurn: 't1' });
    await written;
    reopened.append(SID, { type: 'turn_end', turnId: 't1', stopReason: 'interrupted' });
    await reopened.close();
    expect(event.seq).toBe(3);

    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    expect(lines.at(-1)).toBe(''); // ends with a newline
    // The torn half stays on its own line; the new event is not glued onto it.
    expect(lines[3]).toBe(whole.slice(0, Math.floor(whole.length / 2)));
    expect(JSON.parse(lines[4])).toMatchObject({ seq: 3, event: { type: 'daemon_restarted' } });

    const again = await readEventLog(file);
    expect(again).toMatchObject({ tornTail: false, badLines: 1 });
    expect(again.events.map((e) => [e.seq, e.event.type])).toEqual([
      [0, 'session_created'],
      [1, 'user_message'],
      [2, 'turn_start'],
      [3, 'daemon_restarted'],
      [4, 'turn_end'],
    ]);
  });

  it('keeps a complete last event that only lacks its newline, and still separates the next one', async () => {
    const ev = {
      sessionId: SID,
      seq: 0,
      time: new Date().toISOString(),
      event: { type: 'turn_start', turnId: 't', model: 'm' },
    };
    await writeFile(file, JSON.stringify(ev));
    const read = await readEventLog(file);
    expect(read).toMatchObject({ tornTail: true, badLines: 0 });
    expect(read.events).toHaveLength(1);
    const log = new EventLog(file, 1, true);
    await log.append(SID, { type: 'turn_end', turnId: 't', stopReason: 'end_turn' }).written;
    await log.close();
    const again = await readEventLog(file);
    expect(again).toMatchObject({ tornTail: false, badLines: 0 });
    expect(again.events.map((e) => e.seq)).toEqual([0, 1]);
  });

  it('reads a missing file as empty and counts lines that are not events', async () => {
    expect(await readEventLog(path.join(dir, 'nope.jsonl'))).toEqual({ events: [], tornTail: false, badLines: 0 });
    const ok = JSON.stringify({
      sessionId: SID,
      seq: 0,
      time: new Date().toISOString(),
      event: { type: 'turn_start', turnId: 't', model: 'm' },
    });
    await writeFile(file, `${ok}\n{"not":"an event"}\nnot json\n\n`);
    const read = await readEventLog(file);
    expect(read).toMatchObject({ tornTail: false, badLines: 2 });
    expect(read.events).toHaveLength(1);
  });
});
