import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ErrorCodes,
  SessionAttach,
  SessionCreate,
  SessionDetach,
  SessionList,
  SessionPrompt,
  type SessionEvent,
} from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon, until } from '../helpers/daemon.js';

describe('several clients on one session', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await startTestDaemon({ web: false });
  });
  afterAll(async () => {
    await d.stop();
    await d.cleanup();
  });

  it('fans events out to every attached client, hands the driver role over explicitly, and releases it on disconnect', async () => {
    const a = await d.connect('a');
    const b = await d.connect('b');
    const seenA: SessionEvent[] = [];
    const seenB: SessionEvent[] = [];
    a.onEvent((e) => seenA.push(e));
    b.onEvent((e) => seenB.push(e));
    const ws = await makeTempDir('ws');
    const s = await a.request(SessionCreate, { workspace: ws });
    expect(s.driver).toBe(a.clientId);

    const attached = await b.request(SessionAttach, { sessionId: s.sessionId });
    expect(attached.history[0].event.type).toBe('session_created');
    expect(attached.session.driver).toBe(a.clientId);
    expect(
      await until(() => seenA.some((e) => e.event.type === 'client_attached' && e.event.clientId === b.clientId)),
    ).toBe(true);

    // b is not the driver: its prompt is refused with a typed error.
    await expect(b.request(SessionPrompt, { sessionId: s.sessionId, text: 'hi' })).rejects.toMatchObject({
      code: ErrorCodes.NotDriver,
    });

    // Explicit hand-over; both clients see driver_changed.
    await b.request(SessionAttach, { sessionId: s.sessionId, driver: true, fromSeq: 1_000_000 });
    expect(
      await until(() => seenA.some((e) => e.event.type === 'driver_changed' && e.event.driver === b.clientId)),
    ).toBe(true);
    expect(
      await until(() => seenB.some((e) => e.event.type === 'driver_changed' && e.event.driver === b.clientId)),
    ).toBe(true);

    // Events are one sequence: both clients saw the same seqs in order.
    const seqA = seenA.map((e) => e.seq);
    expect(seqA).toEqual([...seqA].sort((x, y) => x - y));

    b.dispose();
    expect(await until(() => seenA.some((e) => e.event.type === 'driver_changed' && e.event.driver === null))).toBe(
      true,
    );
    const list = await a.request(SessionList, {});
    expect(list.sessions.find((x) => x.sessionId === s.sessionId)?.attached).toEqual([a.clientId]);
    await a.request(SessionDetach, { sessionId: s.sessionId });
    a.dispose();
  });

  it('replays history from a given seq to a late client', async () => {
    const a = await d.connect('a2');
    const ws = await makeTempDir('ws');
    const s = await a.request(SessionCreate, { workspace: ws });
    const c = await d.connect('late');
    const all = await c.request(SessionAttach, { sessionId: s.sessionId, fromSeq: 0 });
    const tail = await c.request(SessionAttach, { sessionId: s.sessionId, fromSeq: 2 });
    const fromAll = all.history.filter((e) => e.seq >= 2).map((e) => e.seq);
    const seqs = tail.history.map((e) => e.seq);
    expect(seqs[0]).toBe(2);
    // Same events from seq 2 on, plus what happened since (this client's own attach).
    expect(seqs.slice(0, fromAll.length)).toEqual(fromAll);
    expect(seqs).toEqual(seqs.map((_, i) => 2 + i));
    a.dispose();
    c.dispose();
  });

  it('refuses a workspace that does not exist and an unknown session with typed errors', async () => {
    const a = await d.connect('a3');
    await expect(a.request(SessionCreate, { workspace: '/no/such/dir' })).rejects.toMatchObject({
      code: ErrorCodes.FileNotFound,
      data: { reason: 'workspace_not_found' },
    });
    await expect(a.request(SessionAttach, { sessionId: 'nope' })).rejects.toMatchObject({
      code: ErrorCodes.SessionNotFound,
    });
    a.dispose();
  });
});
