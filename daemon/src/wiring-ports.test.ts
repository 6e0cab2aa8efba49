// The review port signs the workspace's audit log (its seal: the log fdatasynced, the signed head written) after
// accept, reject and undo, and answers only once that is done: the daemon's log appends are not synced on their
// own (durability `checkpoint`), so an answer before the seal could be followed by a crash that leaves the entry
// unsigned or lost. The shadow service and the sessions here are fakes: only the ordering is under test.
import { describe, expect, it } from 'vitest';
import type { ClientHandle } from './server/index.js';
import type { SessionManager } from './sessions/index.js';
import type { ShadowService } from './shadow/index.js';
import type { Shell } from './shell/index.js';
import { reviewPort } from './wiring-ports.js';

const t = { sessionId: 's1', workspace: '/ws' };
const client = { id: 'c1' } as unknown as ClientHandle;

function setup() {
  const log: string[] = [];
  let sealed!: () => void;
  const shadow = {
    accept: () => Promise.resolve({ acceptId: 'acc-1', applied: [{ path: 'a', action: 'written' }], conflicts: [] }),
    reject: () => Promise.resolve({ rejected: ['a'] }),
    undo: () => Promise.resolve({ acceptId: 'acc-1', restored: ['a'] }),
    release: () => Promise.resolve(),
  } as unknown as ShadowService;
  const sessions = { get: () => ({ running: null, emit: () => undefined }) } as unknown as SessionManager;
  const seal = (workspace: string) =>
    new Promise<void>((resolve) => {
      log.push(`seal ${workspace}`);
      sealed = () => {
        log.push('sealed');
        resolve();
      };
    });
  const port = reviewPort(shadow, {} as Shell, sessions, seal);
  return { log, port, seal: () => sealed() };
}

/** Lets every queued callback run (promise jobs and a few event-loop turns), without a clock. */
const drain = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('review port', () => {
  for (const method of ['accept', 'reject', 'undo'] as const)
    it(`${method} answers only after the audit log's seal has finished`, async () => {
      const { log, port, seal } = setup();
      const sel = { paths: [], hunks: [], force: false };
      const answer =
        method === 'accept'
          ? port.accept(t, sel, client)
          : method === 'reject'
            ? port.reject(t, sel, client)
            : port.undo(t, client);
      void answer.then(() => log.push('answered'));
      await drain();
      expect(log).toEqual(['seal /ws']);
      seal();
      await answer;
      await drain();
      expect(log).toEqual(['seal /ws', 'sealed', 'answered']);
    });
});
