// Accept, reject and undo sign the workspace's audit log (its seal: the log synced, the signed head written)
// before they answer, whatever their outcome: the daemon's appends are not synced on their own, so an answer
// before the seal could be followed by a crash that leaves the entry unsigned or lost. An accept's work after its
// answer (the replaced files' kept names removed, the layer saved, the journal's `done`) starts only once the seal
// is done (issue 20): the review port used to seal after the service answered, while that work already ran beside
// the seal and its file-system journal commits held the seal's fsyncs back.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEntryInput, AuditSink } from '../audit/index.js';
import { workspaceStateDir } from '../state/index.js';
import type { AcceptRecord } from './journal.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());
const ALL = { paths: [], hunks: [], force: false };
const t = () => ({ sessionId: 's1', workspace: ws.root });
const sessionDir = () => path.join(workspaceStateDir(ws.stateDir, ws.root), 'shadow', 'sessions', 's1');
const journalStates = () => {
  const dir = path.join(sessionDir(), 'accepts');
  return readdirSync(dir).map((n) => (JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as AcceptRecord).state);
};
const keptNames = () => {
  try {
    return readdirSync(path.join(sessionDir(), 'keep'));
  } catch {
    return [];
  }
};
/** Event-loop turns (timers included: an accept's after-work starts on a timer) until `done()`, then five more. */
const turnsUntil = async (done: () => boolean) => {
  for (let i = 0; i < 10_000 && !done(); i++) await new Promise((r) => setTimeout(r, 1));
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 1));
};

/** A memory audit sink whose seal waits until the test lets it finish; `log` records the order of events. */
function heldSeal() {
  const log: string[] = [];
  const entries: AuditEntryInput[] = [];
  let release: (() => void) | null = null;
  const audit: AuditSink & Required<Pick<AuditSink, 'seal'>> = {
    append: async (e) => {
      entries.push(e);
      log.push(`append ${e.type}`);
      return undefined;
    },
    seal: (workspace) =>
      new Promise<void>((resolve) => {
        log.push(`seal ${workspace === ws.root ? 'ws' : workspace}`);
        release = () => {
          log.push('sealed');
          resolve();
        };
      }),
  };
  return {
    audit,
    log,
    entries,
    release: () => {
      if (!release) throw new Error('the seal was not asked for');
      const r = release;
      release = null;
      r();
    },
  };
}

describe('accept, reject and undo answer only after the audit log is sealed', () => {
  it('accept: the seal comes after its entry, the answer after the seal, the work after the answer after both', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n' }, { git: false });
    const h = heldSeal();
    // Every durable file operation the service makes while the seal is held (the work after the answer saves the
    // layer and writes the journal's `done`: none of it may start before the seal is done).
    const duringSeal: string[] = [];
    const faults = {
      before: (op: string) => {
        if (h.log.at(-1) === 'seal ws') duringSeal.push(op);
      },
    };
    const svc = ws.open({ audit: h.audit, faults });
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    await v.writeFile('b.txt', 'new b\n');
    const answer = svc.accept(t(), ALL, 'me').then((r) => {
      h.log.push('answered');
      return r;
    });
    await turnsUntil(() => h.log.includes('seal ws'));
    expect(h.log).toEqual(['append shadow.accept', 'seal ws']);
    // While the seal runs, nothing after the answer has started: no durable operation at all, and the journal
    // says `applied`, not `done`.
    expect(duringSeal).toEqual([]);
    expect(journalStates()).toEqual(['applied']);
    h.release();
    const r = await answer;
    expect(r.applied.map((a) => a.path).sort()).toEqual(['a.txt', 'b.txt']);
    expect(h.log).toEqual(['append shadow.accept', 'seal ws', 'sealed', 'answered']);
    // The next call on the session waits for the work after the answer.
    await svc.status(t());
    expect(keptNames()).toEqual([]);
    expect(journalStates()).toEqual(['done']);
  });

  it('reject and undo: the seal after the entry, the answer after the seal', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n' }, { git: false });
    const h = heldSeal();
    const svc = ws.open({ audit: h.audit });
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    const accepted = svc.accept(t(), ALL, 'me');
    await turnsUntil(() => h.log.includes('seal ws'));
    h.release();
    await accepted;
    h.log.length = 0;
    const undone = svc.undo(t(), 'me').then(() => h.log.push('answered'));
    await turnsUntil(() => h.log.includes('seal ws'));
    expect(h.log).toEqual(['append shadow.undo', 'seal ws']);
    h.release();
    await undone;
    expect(h.log).toEqual(['append shadow.undo', 'seal ws', 'sealed', 'answered']);
    expect(readFileSync(path.join(ws.root, 'a.txt'), 'utf8')).toBe('old a\n');

    h.log.length = 0;
    await v.writeFile('a.txt', 'again\n');
    const rejected = svc.reject(t(), ALL, 'me').then(() => h.log.push('answered'));
    await turnsUntil(() => h.log.includes('seal ws'));
    expect(h.log).toEqual(['append shadow.reject', 'seal ws']);
    h.release();
    await rejected;
    expect(h.log).toEqual(['append shadow.reject', 'seal ws', 'sealed', 'answered']);
  });

  it('a refused accept is sealed too (its refusal may have been audited), and a failing seal does not fail the call', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n' }, { git: false });
    const log: string[] = [];
    const svc = ws.open({
      audit: {
        append: async (e) => void log.push(`append ${e.type}`),
        seal: async () => {
          log.push('seal');
          throw new Error('disk gone');
        },
      },
    });
    await expect(svc.accept(t(), { paths: ['nope.txt'], hunks: [], force: false }, 'me')).rejects.toThrow();
    expect(log).toEqual(['seal']);
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    const r = await svc.accept(t(), ALL, 'me');
    expect(r.applied.map((a) => a.path)).toEqual(['a.txt']);
    expect(log).toEqual(['seal', 'append shadow.accept', 'seal']);
  });
});
