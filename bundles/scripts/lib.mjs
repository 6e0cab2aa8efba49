// Shared helpers for the bundle scripts (build, sign, keygen, rotate). They import the daemon's
// compiled bundles module, so run `npx tsc -b daemon` (or `npm run build`) first.
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUNDLES = join(REPO, 'bundles');
export const CACHE = process.env.SHADOWBOX_BUNDLES_CACHE
  ? resolve(process.env.SHADOWBOX_BUNDLES_CACHE)
  : join(BUNDLES, '.cache');
export const LOCAL_KEY = join(BUNDLES, '.cache', 'keys', 'local-build.json');
export const LOCAL_PUB = join(BUNDLES, '.cache', 'keys', 'local-build.pub.json');

const distIndex = join(REPO, 'daemon', 'dist', 'bundles', 'index.js');

/** The daemon's bundles module (compiled). */
export async function bundlesLib() {
  if (!(await stat(distIndex).catch(() => null)))
    throw new Error(`${distIndex} is missing: run \`npx tsc -b daemon\` first`);
  return import(distIndex);
}

export const execFileP = promisify(execFile);

/** Runs a program, streaming nothing; throws with its stderr tail on failure. */
export async function run(cmd, args, opts = {}) {
  try {
    const r = await execFileP(cmd, args, { maxBuffer: 64 * 1024 * 1024, ...opts });
    return r.stdout;
  } catch (e) {
    const tail = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${cmd} ${args.join(' ').slice(0, 300)} failed:\n${tail}`, { cause: e });
  }
}

/** Parses `--flag value` / `--flag` / positionals. */
export function parseArgs(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) out._.push(a);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = true;
  }
  return out;
}

/** Writes a private key file with mode 0600 and its public half beside it. */
export async function writeKeyPair(lib, dir, base, role) {
  const key = lib.generateKey(role);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const priv = join(dir, `${base}.json`);
  await writeFile(priv, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600 });
  await chmod(priv, 0o600);
  const pub = { ...key };
  delete pub.private;
  await writeFile(join(dir, `${base}.pub.json`), `${JSON.stringify(pub, null, 2)}\n`);
  return key;
}

/**
 * The keys a build signs with. With SHADOWBOX_SIGNING_KEY_DIR: the official release key (role
 * "release", both roles) or index and bundles keys found there (role "index" / "bundles"). Without: the checkout's local build key, generated on first
 * use under bundles/.cache/keys/ (git-ignored) and accepted by daemons only for this checkout's
 * bundles/out/.
 */
export async function signingKeys(lib, log = console.error) {
  const dir = process.env.SHADOWBOX_SIGNING_KEY_DIR;
  if (dir) {
    const keys = await lib.loadKeyDir(resolve(dir));
    const index = keys.filter((k) => k.role === 'index' || k.role === 'release');
    const bundles = keys.filter((k) => k.role === 'bundles' || k.role === 'release');
    if (!index.length || !bundles.length)
      throw new Error(
        `SHADOWBOX_SIGNING_KEY_DIR=${dir} must hold a key file with role "release" (or roles "index" and "bundles")`,
      );
    return { kind: 'official', index, bundles, expiresInDays: 30 };
  }
  let key = await readFile(LOCAL_KEY, 'utf8')
    .then((t) => lib.PrivateKeyFileSchema().parse(JSON.parse(t)))
    .catch(() => null);
  if (!key) {
    key = await writeKeyPair(lib, dirname(LOCAL_KEY), 'local-build', 'local');
    log(
      `bundles: generated this checkout's local build key ${key.keyid.slice(0, 16)} in ${dirname(LOCAL_KEY)} (never commit it)`,
    );
  }
  return { kind: 'local', index: [key], bundles: [key], expiresInDays: 365 };
}
