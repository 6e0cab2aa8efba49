// The fault-injection harness: one scripted piece of work (two agent turns that stream text and write
// files, a person accepting one file and editing another), run against a real daemon that a fault
// interrupts at a seeded point, then the invariants every survivor must satisfy. Scenarios (kill -9,
// a full disk, and the shadow store's own) use it and report into one tally.
import { mkdirSync, writeFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AuditVerify,
  SessionAttach,
  SessionCreate,
  SessionPrompt,
  ShadowAccept,
  ShadowFile,
  ShadowStatus,
  type SessionEvent,
} from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { repoRoot, type TestDaemon } from '../helpers/daemon.js';
import type { ModelServer } from '../model-server/index.js';

/** The person's files before anything ran. */
export const ORIGINAL: Record<string, string> = {
  'a.txt': 'alpha\nline two\n',
  'b.txt': 'bravo\n',
  'c.txt': 'charlie\n',
};
/** What the person types into c.txt between the turns. */
export const PERSON_C = 'charlie, edited by the person\n';

/** Every write the agent makes, in script order: path → the contents it writes, oldest first. */
export const WRITES: Record<string, string[]> = {
  'a.txt': ['alpha\nline two, by the agent\n', 'alpha\nline two, by the agent\nand a third\n'],
  'b.txt': ['bravo, by the agent\n', 'bravo, twice by the agent\n'],
  'new.txt': ['made by the agent\n'],
  'd.txt': ['made in turn two\n'],
};

const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i} `);
const write = (p: string, v: number) => ({ name: 'write_file', arguments: { path: p, content: WRITES[p][v] } });

/** The model's side of the script: turn 1 writes a, b and new; turn 2 streams and writes a, b and d. */
export function scriptModel(model: ModelServer): void {
  model.push(
    { text: words(20, 'one'), toolCalls: [write('a.txt', 0)] },
    { text: words(10, 'two'), toolCalls: [write('b.txt', 0), write('new.txt', 0)] },
    { text: words(5, 'done') },
    { text: words(60, 'stream'), toolCalls: [write('a.txt', 1)] },
    { text: words(30, 'more'), toolCalls: [write('b.txt', 1), write('d.txt', 0)] },
    { text: words(15, 'end') },
  );
}

/** How far the person's side of the script got before the fault (the checks depend on it). */
export interface Progress {
  sessionId: string | null;
  turn1: boolean;
  acceptAsked: boolean;
  acceptDone: boolean;
  personEdited: boolean;
  turn2: boolean;
  /** Every event the watching client received, in order. */
  seen: SessionEvent[];
}

/** Nothing done yet. */
export function newProgress(): Progress {
  return {
    sessionId: null,
    turn1: false,
    acceptAsked: false,
    acceptDone: false,
    personEdited: false,
    turn2: false,
    seen: [],
  };
}

/** The workspace as the person left it before the run. */
export async function seedWorkspace(ws: string): Promise<void> {
  for (const [p, text] of Object.entries(ORIGINAL)) await writeFile(path.join(ws, p), text);
}

/**
 * Runs the script through `driver` while `watcher` records every event. Stops quietly at the first
 * request the fault breaks (a killed daemon, a full disk): what completed is in `progress`.
 */
export async function runScript(
  driver: ShadowboxClient,
  watcher: ShadowboxClient,
  ws: string,
  progress: Progress,
  onEvent: (seen: number) => void = () => undefined,
): Promise<void> {
  watcher.onEvent((e) => {
    progress.seen.push(e);
    onEvent(progress.seen.length);
  });
  try {
    const s = await driver.request(SessionCreate, { workspace: ws, mode: 'auto' });
    progress.sessionId = s.sessionId;
    await watcher.request(SessionAttach, { sessionId: s.sessionId, fromSeq: 0 });
    await driver.request(SessionPrompt, { sessionId: s.sessionId, text: 'turn one' });
    progress.turn1 = true;
    progress.acceptAsked = true;
    await driver.request(ShadowAccept, { sessionId: s.sessionId, paths: ['a.txt'] });
    progress.acceptDone = true;
    await writeFile(path.join(ws, 'c.txt'), PERSON_C);
    progress.personEdited = true;
    await driver.request(SessionPrompt, { sessionId: s.sessionId, text: 'turn two' });
    progress.turn2 = true;
  } catch {
    // the fault hit: what happened is what the checks look at
  }
}

/** One broken invariant, said plainly. */
export type Violation = string;

/** The checks after a fault, against a (re)started daemon. Returns what was violated (empty: survived). */
export async function checkInvariants(d: TestDaemon, ws: string, p: Progress): Promise<Violation[]> {
  const out: Violation[] = [];
  const c = await d.connect('checker');
  try {
    // The audit log is intact.
    const audit = await c.request(AuditVerify, { workspace: ws });
    if (!audit.ok) out.push(`audit verify failed: ${JSON.stringify(audit.firstBad)}`);
    out.push(...(await checkRealFiles(ws, p)));
    if (p.sessionId) {
      out.push(...(await checkEvents(c, p)));
      out.push(...(await checkReview(c, ws, p)));
    }
  } finally {
    c.dispose();
  }
  return out;
}

/** The person's files: untouched, exactly as accepted, or as they edited them; nothing else in the folder. */
async function checkRealFiles(ws: string, p: Progress): Promise<Violation[]> {
  const out: Violation[] = [];
  const names = (await readdir(ws)).sort();
  const extra = names.filter((n) => !(n in ORIGINAL));
  if (extra.length) out.push(`unexpected entries in the workspace (temp files?): ${extra.join(', ')}`);
  const read = (n: string) => readFile(path.join(ws, n), 'utf8').catch(() => null);
  const a = await read('a.txt');
  const aAllowed = p.acceptDone
    ? [WRITES['a.txt'][0]]
    : p.acceptAsked
      ? [ORIGINAL['a.txt'], WRITES['a.txt'][0]]
      : [ORIGINAL['a.txt']];
  if (!aAllowed.includes(a ?? ''))
    out.push(`a.txt holds ${JSON.stringify(a)}, expected one of ${JSON.stringify(aAllowed)}`);
  const b = await read('b.txt');
  if (b !== ORIGINAL['b.txt']) out.push(`b.txt was changed: ${JSON.stringify(b)}`);
  const cText = await read('c.txt');
  const cWant = p.personEdited ? PERSON_C : ORIGINAL['c.txt'];
  if (cText !== cWant && !(cText === PERSON_C && !p.personEdited)) out.push(`c.txt holds ${JSON.stringify(cText)}`);
  return out;
}

/** The session log: one unbroken sequence, every event a client saw still there unchanged, no open turn. */
async function checkEvents(c: ShadowboxClient, p: Progress): Promise<Violation[]> {
  const out: Violation[] = [];
  // Twice: the first attach's own client_attached (which a still-running watcher sees) is in the second's history.
  await c.request(SessionAttach, { sessionId: p.sessionId!, fromSeq: 0 });
  const { history } = await c.request(SessionAttach, { sessionId: p.sessionId!, fromSeq: 0 });
  const seqs = history.map((e) => e.seq);
  if (seqs.some((s, i) => s !== i)) out.push(`event seqs are not 0..${seqs.length - 1}`);
  const bySeq = new Map(history.map((e) => [e.seq, e]));
  for (const e of p.seen) {
    const disk = bySeq.get(e.seq);
    if (JSON.stringify(disk) !== JSON.stringify(e)) {
      out.push(`seq ${e.seq} was seen as ${e.event.type} but is ${disk ? disk.event.type : 'missing'} on disk`);
      break;
    }
  }
  const open = new Set<string>();
  for (const e of history) {
    if (e.event.type === 'turn_start') open.add(e.event.turnId);
    if (e.event.type === 'turn_end') open.delete(e.event.turnId);
  }
  // The checker attached after the restart: a turn that was open must have been ended by recovery.
  if (open.size) out.push(`turn(s) never ended: ${[...open].join(', ')}`);
  return out;
}

/**
 * The review: only bytes the agent wrote, and nothing a client was told was written is missing — for each
 * path, the pending content is the last write whose completion a client saw, or a later one.
 */
async function checkReview(c: ShadowboxClient, ws: string, p: Progress): Promise<Violation[]> {
  const out: Violation[] = [];
  const status = await c.request(ShadowStatus, { sessionId: p.sessionId! });
  const pending = new Map<string, string | null>();
  for (const f of status.files) {
    const file = await c.request(ShadowFile, { sessionId: p.sessionId!, workspace: ws, path: f.path });
    pending.set(f.path, file.shadow);
  }
  for (const [path_, content] of pending) {
    if (!(path_ in WRITES)) out.push(`review holds ${path_}, which the agent never wrote`);
    else if (!WRITES[path_].includes(content ?? '')) out.push(`review holds torn/foreign bytes for ${path_}`);
  }
  // The last write per path a client saw completed.
  const inputs = new Map<string, { path: string; content: string }>();
  const lastSeen = new Map<string, number>();
  for (const e of p.seen) {
    if (e.event.type === 'tool_call' && e.event.tool === 'write_file')
      inputs.set(e.event.callId, e.event.input as { path: string; content: string });
    if (e.event.type === 'tool_call_update' && e.event.status === 'completed') {
      const w = inputs.get(e.event.callId);
      if (w) lastSeen.set(w.path, WRITES[w.path].indexOf(w.content));
    }
  }
  for (const [path_, v] of lastSeen) {
    const now = pending.get(path_);
    const at = now === undefined || now === null ? -1 : WRITES[path_].indexOf(now);
    // a.txt's first version left the review when it was accepted.
    const accepted = path_ === 'a.txt' && v === 0 && p.acceptDone;
    if (at < v && !accepted) out.push(`${path_}: a client saw write #${v} complete, the review has #${at}`);
  }
  return out;
}

/** Counts of one suite run: every fault point injected, and whether the invariants held after it. */
export class FaultTally {
  private readonly rows: Array<{ scenario: string; point: number; violations: Violation[] }> = [];

  record(scenario: string, point: number, violations: Violation[]): void {
    this.rows.push({ scenario, point, violations });
  }

  summary(): { injected: number; survived: number; lost: number; byScenario: Record<string, [number, number]> } {
    const byScenario: Record<string, [number, number]> = {};
    for (const r of this.rows) {
      const s = (byScenario[r.scenario] ??= [0, 0]);
      s[0]++;
      if (r.violations.length === 0) s[1]++;
    }
    const survived = this.rows.filter((r) => r.violations.length === 0).length;
    return { injected: this.rows.length, survived, lost: this.rows.length - survived, byScenario };
  }

  /** One line per point that lost something, naming it and its violations (a failing run's assertion shows them). */
  lost(): string[] {
    return this.rows
      .filter((r) => r.violations.length)
      .map((r) => `LOST ${r.scenario} @${r.point}: ${r.violations.join('; ')}`);
  }

  /** Prints the counts (and any violation) and keeps them in test-results/fault-injection.json. */
  report(): string {
    const s = this.summary();
    const lines = [
      `fault injection: ${s.injected} points injected, ${s.survived} survived, ${s.lost} lost`,
      ...Object.entries(s.byScenario).map(([k, [n, ok]]) => `  ${k}: ${n} points, ${ok} survived, ${n - ok} lost`),
      ...this.lost().map((l) => `  ${l}`),
    ];
    const text = lines.join('\n');
    console.log(text);
    const dir = path.join(repoRoot, 'test-results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'fault-injection.json'), JSON.stringify({ ...s, rows: this.rows }, null, 2));
    return text;
  }
}
