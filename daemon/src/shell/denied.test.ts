// The paths a command's run hides (deny rules as whiteouts): found as the policy matches the rules — case-insensitive,
// names holding line breaks included, alternations and quotes not taken for a literal folder — and refused (fail
// closed) when finding them would walk too much. Before, `Secrets/**` hid nothing on a case-sensitive disk holding
// `secrets/`, `secret/**` left `secret/a\nb` readable, and a walk past its cap started the command anyway.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deniedPathsIn } from './denied.js';

let root: string;
const put = (rel: string) => {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), 'x\n');
};
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'sbx-denied-'));
  for (const f of [
    'secrets/key.pem',
    'secret/a\nb',
    'a\nb/.env',
    'lib/pub/secret/key.txt',
    'src/app.ts',
    '.git/config',
  ])
    put(f);
  symlinkSync('../secrets', path.join(root, 'src', 'link'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const hidden = (...globs: string[]) =>
  deniedPathsIn(
    root,
    globs.map((glob) => ({ glob })),
  );

describe('deniedPathsIn', () => {
  it('matches as the policy does: another letter case, a literal in another case, names holding a newline', async () => {
    expect(await hidden('Secrets/**')).toEqual(['secrets']);
    expect(await hidden('SECRETS/KEY.PEM')).toEqual(['secrets/key.pem']);
    expect((await hidden('secret/**')).sort()).toEqual(['secret']);
    expect(await hidden('secret/*')).toEqual(['secret/a\nb']);
    expect(await hidden('**/.env')).toEqual(['a\nb/.env']);
  });

  it('a top-level | or quotes are not a literal leading folder', async () => {
    expect(await hidden('x/**|lib/pub/secret/**')).toEqual(['lib/pub/secret']);
    expect(await hidden('"lib"/pub/secret/**')).toEqual(['lib/pub/secret']);
  });

  it('never walks through a link, never into .git; nothing when there are no rules', async () => {
    expect(await hidden('**/key.pem')).toEqual(['secrets/key.pem']); // not src/link/key.pem
    expect(await hidden('**/config')).toEqual([]);
    expect(await hidden()).toEqual([]);
  });

  it('refuses the run (typed) when finding the paths would walk more than its cap', async () => {
    await expect(deniedPathsIn(root, [{ glob: '**/.env' }], 8)).rejects.toMatchObject({
      data: { reason: 'sandbox_setup_failed' },
    });
    // A rule with a literal leading folder walks only below it: the same cap is enough.
    expect(await deniedPathsIn(root, [{ glob: 'secrets/**' }], 8)).toEqual(['secrets']);
  });
});
