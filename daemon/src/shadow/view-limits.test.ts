// Issue 14 §1 (deep paths, stop) and §4 (the policy's deny path rules held by the view itself).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

describe("the policy's deny path rules in the view", () => {
  function secrets() {
    ws = makeWorkspace({ 'secrets/key.txt': 'SECRET\n', 'src/a.ts': 'a\n', 'src/.env': 'TOKEN=x\n' });
    mkdirSync(path.join(ws.root, 'public'));
    writeFileSync(path.join(ws.root, 'public/readme'), 'hi\n');
    return ws.open({ hiddenPaths: async () => ['secrets/**', '**/.env'] });
  }

  it('hides denied paths from listings and refuses every read and write of them, also through a symlink', async () => {
    const svc = secrets();
    const v = await svc.view('s1', ws.root);
    expect((await v.readdir('')).map((e) => e.name)).not.toContain('secrets');
    expect((await v.readdir('src')).map((e) => e.name)).toEqual(['a.ts']);
    for (const op of [
      () => v.readFile('secrets/key.txt'),
      () => v.stat('secrets/key.txt'),
      () => v.readdir('secrets'),
      () => v.readFile('src/.env'),
      () => v.writeFile('secrets/py.txt', 'x'),
      () => v.writeFile('src/.env', 'x'),
      () => v.remove('secrets'),
      () => v.rename('secrets/key.txt', 'public/key.txt'),
      () => v.rename('src/a.ts', 'secrets/a.ts'),
      () => v.mkdir('secrets/sub'),
      () => v.resolve('./secrets/../secrets/key.txt'),
    ])
      refused(await op().catch((e: unknown) => e), ErrorCodes.PermissionDenied, 'path_denied');
    // A folder holding a denied file cannot be removed or moved either (that would delete or move it).
    refused(await v.remove('src').catch((e: unknown) => e), ErrorCodes.PermissionDenied, 'path_denied');
    refused(await v.rename('src', 'lib').catch((e: unknown) => e), ErrorCodes.PermissionDenied, 'path_denied');
    // A link into the denied folder is resolved first: refused too.
    const { symlinkSync } = await import('node:fs');
    symlinkSync('../secrets/key.txt', path.join(ws.root, 'public/link'));
    refused(await v.readFile('public/link').catch((e: unknown) => e), ErrorCodes.PermissionDenied, 'path_denied');
    expect(Buffer.from(await v.readFile('public/readme')).toString()).toBe('hi\n');
  });

  it('a failing rules source refuses access (fail closed)', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const svc = ws.open({
      hiddenPaths: async () => {
        throw new Error('rules file corrupt');
      },
    });
    const v = await svc.view('s1', ws.root);
    refused(await v.readFile('a.txt').catch((e: unknown) => e), ErrorCodes.PermissionDenied, 'path_rules_unavailable');
  });
});
