// The paths a command's run hides (deny rules as whiteouts): found as the policy matches the rules — case-insensitive,
// names holding line breaks included, alternations and quotes not taken for a literal folder — and refused (fail
// closed) when finding them would walk too much. Before, `Secrets/**` hid nothing on a case-sensitive disk holding
// `secrets/`, `secret/**` left `secret/a\nb` readable, and a walk past its cap started the command anyway.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deniedPathsIn } from './denied.js';

/** The compiled module the unprivileged child runs (npm run build writes it before the tests). */
const builtDenied = fileURLToPath(new URL('../../dist/shell/denied.js', import.meta.url));

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

/** What the rules hide, `.git` aside (hidden whenever there is a rule: its own test below). */
const hidden = async (...globs: string[]) =>
  (
    await deniedPathsIn(
      root,
      globs.map((glob) => ({ glob })),
    )
  ).filter((p) => p !== '.git');

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

  it('with any rule, every .git met is hidden too (its history holds the denied paths); none without rules', async () => {
    put('lib/pub/.GIT/HEAD');
    expect((await deniedPathsIn(root, [{ glob: 'lib/pub/secret/**' }])).sort()).toEqual(
      ['.git', 'lib/pub/.GIT', 'lib/pub/secret'].sort(),
    );
    expect(await deniedPathsIn(root, [])).toEqual([]);
  });

  it('with any rule, the other version-control stores met are hidden too (.hg, .svn, .jj, any case)', async () => {
    put('lib/pub/.hg/store/data/secret/key.txt.i');
    put('lib/pub/.SVN/pristine/ab/abcd.svn-base');
    put('lib/pub/.jj/repo/store/extra/x');
    put('lib/pub/.hgignore');
    expect((await deniedPathsIn(root, [{ glob: 'lib/pub/secret/**' }])).sort()).toEqual(
      ['.git', 'lib/pub/.SVN', 'lib/pub/.hg', 'lib/pub/.jj', 'lib/pub/secret'].sort(),
    );
    expect(await deniedPathsIn(root, [])).toEqual([]);
  });

  it('never walks through a link, never into .git; nothing when there are no rules', async () => {
    expect(await hidden('**/key.pem')).toEqual(['secrets/key.pem']); // not src/link/key.pem
    expect(await hidden('**/config')).toEqual([]);
    expect(await hidden()).toEqual([]);
  });

  it('a negated rule hides what the policy denies in another letter case too (`!src/**` covers SRC/)', async () => {
    put('SRC/secret.txt');
    const h = await hidden('!src/**');
    expect(h).toContain('SRC');
    expect(h).toContain('secrets');
    expect(h.some((p) => p === 'src' || p.startsWith('src/'))).toBe(false);
  });

  it('refuses the run when a path to hide is not valid UTF-8, also below a folder whose name is not', async () => {
    mkdirSync(path.join(root, 'keys'));
    writeFileSync(Buffer.concat([Buffer.from(`${root}/keys/`), Buffer.from([0xff]), Buffer.from('.pem')]), 'K\n');
    await expect(hidden('**/*.pem')).rejects.toMatchObject({ data: { reason: 'sandbox_setup_failed' } });
    rmSync(path.join(root, 'keys'), { recursive: true });
    const odd = Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0xfe])]);
    mkdirSync(odd);
    writeFileSync(Buffer.concat([odd, Buffer.from('/id_rsa')]), 'K\n');
    await expect(hidden('**/id_rsa')).rejects.toMatchObject({ data: { reason: 'sandbox_setup_failed' } });
    // A name that is not UTF-8 and not denied is no reason to refuse.
    expect(await hidden('secrets/**')).toEqual(['secrets']);
  });

  it('a folder it can enter but not list refuses the run; one it cannot enter at all is skipped (nor can the command)', () => {
    // Permission bits do not stop root: the case runs as `nobody` (runuser, as CI does for every sandbox), in a
    // child process over the built module, in a folder of its own.
    const script = `
      import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
      import os from 'node:os';
      import path from 'node:path';
      const { deniedPathsIn } = await import(${JSON.stringify(builtDenied)});
      const root = mkdtempSync(path.join(os.tmpdir(), 'sbx-denied-nobody-'));
      for (const d of ['secrets', 'locked']) { mkdirSync(path.join(root, d)); writeFileSync(path.join(root, d, 'key.pem'), 'k'); }
      const run = () => deniedPathsIn(root, [{ glob: '**/*.pem' }]).then((x) => x.sort(), (e) => e.data?.reason ?? String(e));
      chmodSync(path.join(root, 'locked'), 0o311);
      const listable = await run();
      chmodSync(path.join(root, 'locked'), 0o000);
      const closed = await run();
      chmodSync(path.join(root, 'locked'), 0o700);
      rmSync(root, { recursive: true, force: true });
      process.stdout.write(JSON.stringify({ listable, closed }));`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-denied-script-'));
    chmodSync(dir, 0o755);
    const file = path.join(dir, 'case.mjs');
    writeFileSync(file, script, { mode: 0o644 });
    try {
      const asRoot = process.getuid?.() === 0;
      const out = execFileSync(
        asRoot ? 'runuser' : process.execPath,
        asRoot ? ['-u', 'nobody', '--', process.execPath, file] : [file],
        {
          cwd: dir,
        },
      ).toString();
      expect(JSON.parse(out)).toEqual({ listable: 'sandbox_setup_failed', closed: ['secrets/key.pem'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a .git file points to the history: the folder it names inside the workspace is hidden too', async () => {
    rmSync(path.join(root, '.git'), { recursive: true });
    writeFileSync(path.join(root, '.git'), 'gitdir: ./.bare/worktrees/main\n');
    put('.bare/worktrees/main/commondir');
    writeFileSync(path.join(root, '.bare/worktrees/main/commondir'), '../..\n');
    put('.bare/objects/pack/x.pack');
    expect((await deniedPathsIn(root, [{ glob: 'secrets/**' }])).sort()).toEqual(
      ['.bare', '.bare/worktrees/main', '.git', 'secrets'].sort(),
    );
  });

  it('refuses the run (typed) when finding the paths would walk more than its cap', async () => {
    await expect(deniedPathsIn(root, [{ glob: '**/.env' }], 8)).rejects.toMatchObject({
      data: { reason: 'sandbox_setup_failed' },
    });
    // A rule with a literal leading folder walks only below it: the same cap is enough.
    expect((await deniedPathsIn(root, [{ glob: 'secrets/**' }], 8)).sort()).toEqual(['.git', 'secrets']);
  });
});
