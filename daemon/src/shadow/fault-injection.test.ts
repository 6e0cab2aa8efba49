// The shadow's fault-injection suite (issue 15): a real child process runs shadow operations and kills itself
// (SIGKILL) at a seeded Nth durable file operation — across write_file, checkpoint, accept of 200 files, undo,
// reject, layer compaction and repack. After each kill the session is opened again in this process and must
// end at a state a clean run passes through: the review and the person's files as after some step (or the
// person's own edit made while it was down), no temp file, `git fsck` clean. Counts are printed.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../state/index.js';
import {
  fsckShadow,
  leftoverTemps,
  matchSnapshot,
  pickPoints,
  restoreCopy,
  type Scenario,
  seeded,
  snapshot,
  type Snapshot,
} from './fault-support.js';
import { createShadowService, type ShadowService } from './service.js';
import { memoryAudit, shadowChild } from './test-support.js';

const SEED = 0x5b0c15;
/** Kill points per scenario (the first and last operation always among them); more with SHADOWBOX_FAULT_POINTS. */
const POINTS = Number(process.env.SHADOWBOX_FAULT_POINTS ?? 7);

const lines = (tag: string, n = 30) => Array.from({ length: n }, (_, i) => `${tag} line ${i}`).join('\n') + '\n';
const many = (n: number, tag: string) =>
  Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`f/${String(i).padStart(3, '0')}.txt`, lines(`${tag} ${i}`)]),
  );
const T = `const t = { sessionId: 's1', workspace: root }; const v = await svc.view('s1', root);`;
const ACCEPT_ALL = `${T} await svc.accept(t, { paths: [], hunks: [], force: false }, 'person');`;

async function writeAll(svc: ShadowService, root: string, files: Record<string, string>) {
  const v = await svc.view('s1', root);
  for (const [p, c] of Object.entries(files)) await v.writeFile(p, c);
}

const scenarios: Scenario[] = [
  {
    name: 'write_file (new, edit, delete, new folder)',
    files: many(20, 'old'),
    setup: async (svc, root) => writeAll(svc, root, { 'f/000.txt': lines('agent 0') }),
    steps: [
      `${T} await v.writeFile('f/001.txt', 'edited\\n');`,
      `${T} await v.writeFile('new/dir/n.txt', 'new\\n');`,
      `${T} await v.remove('f/002.txt');`,
    ],
  },
  {
    name: 'checkpoint of 30 files',
    files: many(30, 'old'),
    setup: async (svc, root) => writeAll(svc, root, many(30, 'new')),
    steps: [`await svc.checkpoint('s1', root, 't1', 'turn one');`],
  },
  {
    name: 'accept of 200 files (the person edits one while it is down)',
    files: { ...many(200, 'old'), 'gone.txt': 'bye\n' },
    setup: async (svc, root) => {
      await writeAll(svc, root, { ...many(200, 'new'), 'made/deep/x.txt': 'x\n' });
      await (await svc.view('s1', root)).remove('gone.txt');
    },
    steps: [ACCEPT_ALL],
    personEdits: true,
  },
  {
    name: 'undo of an accept of 50 files',
    files: many(50, 'old'),
    setup: async (svc, root) => {
      await writeAll(svc, root, { ...many(50, 'new'), 'made/x.txt': 'x\n' });
      await svc.accept({ sessionId: 's1', workspace: root }, { paths: [], hunks: [], force: false }, 'person');
    },
    steps: [`${T} await svc.undo(t, 'person');`],
  },
  {
    name: 'reject of 50 files',
    files: many(50, 'old'),
    setup: async (svc, root) => writeAll(svc, root, many(50, 'new')),
    steps: [`${T} await svc.reject(t, { paths: [], hunks: [] }, 'person');`],
  },
  {
    name: 'layer compaction after an accept',
    files: { 'big.txt': lines('v0', 800) },
    gc: { minGarbageBytes: 64 * 1024, garbageRatio: 0.2, undoDepth: 2 },
    setup: async (svc, root) => {
      const t = { sessionId: 's1', workspace: root };
      for (let i = 1; i <= 6; i++) {
        await writeAll(svc, root, { 'big.txt': lines(`v${i}`, 800) });
        await svc.accept(t, { paths: [], hunks: [], force: false }, 'person');
      }
      await writeAll(svc, root, { 'big.txt': lines('v7', 800) });
    },
    steps: [ACCEPT_ALL],
  },
  {
    name: 'checkpoint that repacks the shadow repository',
    files: many(10, 'old'),
    gc: { maxPacks: 2 },
    setup: async (svc, root) => {
      for (let i = 0; i < 3; i++) {
        await writeAll(svc, root, { [`f/00${i}.txt`]: lines(`turn ${i}`) });
        await svc.checkpoint('s1', root, `t${i}`, `turn ${i}`);
      }
      await writeAll(svc, root, { 'f/009.txt': lines('last') });
    },
    steps: [`await svc.checkpoint('s1', root, 't9', 'turn nine');`],
  },
];

/** A step's JS body as a function of (svc, root): the same text the child process runs. */
type Step = (svc: ShadowService, root: string) => Promise<void>;
const AsyncFunction = (Object.getPrototypeOf(async () => undefined) as { constructor: new (...args: string[]) => Step })
  .constructor;

const totals = { injected: 0, survived: 0, lost: 0 };
afterAll(() => {
  // The suite's result line (docs/reliability.md quotes it).
  console.log(
    `shadow kill -9 fault injection (seed ${SEED.toString(16)}): ${totals.injected} points injected, ${totals.survived} survived, ${totals.lost} lost`,
  );
});

describe('fault injection: kill -9 at seeded points', () => {
  const rand = seeded(SEED);
  for (const sc of scenarios) {
    it(
      sc.name,
      async () => {
        const top = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'sbx-fault-')));
        const root = path.join(top, 'ws');
        const stateDir = path.join(top, 'state');
        const tmpl = path.join(top, 'template');
        const open = (): ShadowService =>
          createShadowService({
            stateDir,
            audit: memoryAudit(),
            logger: silentLogger,
            ...(sc.gc ? { gc: sc.gc } : {}),
          });
        const restore = () => {
          restoreCopy(path.join(tmpl, 'ws'), root);
          restoreCopy(path.join(tmpl, 'state'), stateDir);
        };
        const run = async (svc: ShadowService, body: string) => new AsyncFunction('svc', 'root', body)(svc, root);
        try {
          mkdirSync(root);
          for (const [p, c] of Object.entries(sc.files)) {
            mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
            writeFileSync(path.join(root, p), c);
          }
          let svc = open();
          await sc.setup(svc, root);
          await svc.close();
          mkdirSync(tmpl);
          restoreCopy(root, path.join(tmpl, 'ws'));
          restoreCopy(stateDir, path.join(tmpl, 'state'));
          // The reference: where a clean run passes, step by step.
          svc = open();
          const refs: Snapshot[] = [await snapshot(svc, root)];
          for (const step of sc.steps) {
            await run(svc, step);
            refs.push(await snapshot(svc, root));
          }
          await svc.close();
          const gc = sc.gc ? `extra.gc = ${JSON.stringify(sc.gc)};` : '';
          const body = `const root = ${JSON.stringify(root)};\n${sc.steps.map((s) => `await (async () => { ${s} })();`).join('\n')}\nawait svc.close();`;
          // How many durable operations a clean run makes.
          restore();
          const counting = shadowChild(
            stateDir,
            `${gc} let n = 0; extra.faults = { before() { n++; } }; process.on('exit', () => process.stdout.write(' ops=' + n));`,
            body,
          );
          expect(await counting.exited, counting.stderr()).toBe(0);
          const total = Number(/ops=(\d+)/.exec(counting.output())?.[1]);
          expect(total).toBeGreaterThan(0);
          const failures: string[] = [];
          const points = pickPoints(total, POINTS, rand);
          console.log(`${sc.name}: ${total} durable operations, killed at ${points.join(', ')}`);
          for (const k of points) {
            restore();
            const c = shadowChild(
              stateDir,
              `${gc} let n = 0; extra.faults = { before() { if (++n === ${k}) process.kill(process.pid, 'SIGKILL'); } };`,
              body,
            );
            if ((await c.exited) !== null) continue; // finished before point k: nothing injected
            totals.injected++;
            // The person edits a file the interrupted accept had already written (if any), while it is down.
            let edited: { path: string; content: string } | null = null;
            if (sc.personEdits) {
              const hit = Object.keys(sc.files).find((p) => readFileSync(path.join(root, p), 'utf8').startsWith('new'));
              if (hit) {
                appendFileSync(path.join(root, hit), 'my own line\n');
                edited = { path: hit, content: readFileSync(path.join(root, hit), 'utf8') };
              }
            }
            const after = open();
            try {
              const s = await snapshot(after, root);
              const problems: string[] = [];
              if (edited) {
                if (s.files[edited.path] !== edited.content)
                  problems.push(`the person's edit of ${edited.path} was lost`);
                delete s.files[edited.path];
              }
              const refsHere = refs.map((r) => {
                const files = { ...r.files };
                if (edited) delete files[edited.path];
                return { ...r, files };
              });
              if (matchSnapshot(s, refsHere) < 0)
                problems.push('review or files match no state a clean run passes through');
              const temps = leftoverTemps(root);
              if (temps.length > 0) problems.push(`temp files left: ${temps.slice(0, 3).join(', ')}`);
              const fsck = fsckShadow(stateDir);
              if (fsck !== '') problems.push(`git fsck: ${fsck.slice(0, 200)}`);
              // The session keeps working: the steps run to the end from wherever recovery left it.
              if (problems.length === 0) await after.status({ sessionId: 's1', workspace: root });
              if (problems.length > 0) failures.push(`kill at operation ${k}/${total}: ${problems.join('; ')}`);
              else totals.survived++;
            } finally {
              await after.close();
            }
          }
          totals.lost += failures.length;
          expect(failures).toEqual([]);
        } finally {
          rmSync(top, { recursive: true, force: true });
        }
      },
      300_000,
    );
  }
});
