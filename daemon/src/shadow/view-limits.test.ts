// Issue 14 §1: deep paths are refused at once (typed) and handled in O(depth); a stop does not wait for a running call.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ErrorCode, ErrorReason } from '@shadowbox/protocol';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { MAX_PATH_DEPTH } from './paths.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());
const ALL = { paths: [], hunks: [], force: false };
const refused = <C extends ErrorCode>(e: unknown, code: C, reason: ErrorReason<C>) =>
  expect(isShadowboxError(e, code, reason), String(e)).toBe(true);

describe('deep paths', () => {
  it('a path thousands of folders deep is refused at once (typed); the cap itself works end to end', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    const deep = `${Array.from({ length: 5000 }, () => 'd').join('/')}/x.txt`;
    refused(await v.writeFile(deep, 'x').catch((e: unknown) => e), ErrorCodes.PathOutsideWorkspace, 'path_too_deep');
    refused(await v.readFile(deep).catch((e: unknown) => e), ErrorCodes.PathOutsideWorkspace, 'path_too_deep');
    refused(
      await v.writeFile('x'.repeat(10_000_000), 'x').catch((e: unknown) => e),
      ErrorCodes.PathOutsideWorkspace,
      'path_too_long',
    );
    refused(
      await v.writeFile(`${'n'.repeat(256)}.txt`, 'x').catch((e: unknown) => e),
      ErrorCodes.PathOutsideWorkspace,
      'name_too_long',
    );
    refused(
      await v
        .writeFile(`${Array.from({ length: MAX_PATH_DEPTH }, () => 'd').join('/')}/x`, 'x')
        .catch((e: unknown) => e),
      ErrorCodes.PathOutsideWorkspace,
      'path_too_deep',
    );
    // At the cap: written, listed, accepted into real folders.
    const ok = `${Array.from({ length: MAX_PATH_DEPTH - 1 }, (_, i) => `d${i % 10}`).join('/')}/x.txt`;
    await v.writeFile(ok, 'deep\n');
    expect(Buffer.from(await v.readFile(ok)).toString()).toBe('deep\n');
    const t = { sessionId: 's1', workspace: ws.root };
    expect((await svc.status(t)).files.map((f) => f.path)).toEqual([ok]);
    await svc.accept(t, ALL, 'person');
    expect(readFileSync(path.join(ws.root, ok), 'utf8')).toBe('deep\n');
    await svc.undo(t, 'person');
    expect(() => readFileSync(path.join(ws.root, 'd0'))).toThrow();
  });

  it('closing the service stops a running call at its next step (ShuttingDown), and refuses new ones', async () => {
    const files: Record<string, string> = {};
    for (let d = 0; d < 40; d++) for (let f = 0; f < 50; f++) files[`big/d${d}/f${f}.txt`] = 'x\n';
    ws = makeWorkspace(files, { git: false });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    const running = v.remove('big').catch((e: unknown) => e);
    await svc.close();
    refused(await running, ErrorCodes.ShuttingDown, 'shutting_down');
    refused(await v.readFile('big/d0/f0.txt').catch((e: unknown) => e), ErrorCodes.ShuttingDown, 'shutting_down');
    refused(await svc.view('s2', ws.root).catch((e: unknown) => e), ErrorCodes.ShuttingDown, 'shutting_down');
  });
});
