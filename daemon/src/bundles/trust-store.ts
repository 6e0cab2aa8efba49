import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { keyIdOf, PublicKeyFileSchema, publicOf, type PublicKey } from './crypto.js';
import { writeFileAtomic } from '../state/index.js';
import { readState } from './store.js';
import type { MirrorSource } from './sources.js';
import {
  officialAuthority,
  parseRoot,
  refuse,
  singleKeyAuthority,
  verifyRootRotation,
  verifySelfSignedRoot,
  type Authority,
  type RootEnvelope,
} from './trust.js';
import { ONCE } from '../state/index.js';

const MAX_ROOT_BYTES = 512 * 1024;
const MAX_ROTATIONS = 64;

/** Keys a person trusted explicitly with `shadowbox bundles trust KEYFILE`. */
export const TrustedKeysSchema = lazySchema(() =>
  z
    .object({
      keys: z.array(
        z.object({ keyid: z.string(), public: z.string(), addedAt: z.string(), source: z.string() }).strict(),
      ),
    })
    .strict(),
);
export type TrustedKeys = z.infer<ReturnType<typeof TrustedKeysSchema>>;

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

/** Finds root version `v` in the repository's key folder (`<v>.root.json`, or `root.json` if it is that version). */
async function repoRoot(dir: string, v: number): Promise<RootEnvelope | null> {
  for (const name of [`${v}.root.json`, 'root.json']) {
    const value = await readJson(join(dir, name)).catch(() => null);
    if (value === null) continue;
    const root = parseRoot(value);
    if (root.signed.version === v) return root;
  }
  return null;
}

async function mirrorRoot(source: MirrorSource, v: number): Promise<RootEnvelope | null> {
  const bytes = await source.get(`keys/${v}.root.json`, MAX_ROOT_BYTES).catch(() => null);
  if (!bytes) return null;
  return parseRoot(JSON.parse(bytes.toString('utf8')) as unknown);
}

/**
 * The root this client trusts now: the one in the state dir (first use: the repository's
 * `root.json`, which ships with the daemon's own code), moved forward one version at a time through
 * `<N+1>.root.json` files from the repository and then the mirror, each signed by the old and the
 * new root keys. Persisted only when the final root is unexpired.
 */
export async function currentRoot(
  stateBundlesDir: string,
  trustedRootDir: string,
  now: Date,
  mirror?: MirrorSource,
): Promise<RootEnvelope> {
  const statePath = join(stateBundlesDir, 'trusted-root.json');
  const stored = await readJson(statePath).catch(() => null);
  let root: RootEnvelope;
  let changed = false;
  if (stored !== null) {
    root = parseRoot(stored);
  } else {
    const shipped = await readJson(join(trustedRootDir, 'root.json')).catch((e: unknown) => {
      throw new ShadowboxError(
        ErrorCodes.ConfigMissing,
        'no_trust_root',
        `no trust root at ${join(trustedRootDir, 'root.json')}`,
        {},
        { cause: e },
      );
    });
    root = parseRoot(shipped);
    // First use: the shipped root must at least be signed by its own root role.
    verifySelfSignedRoot(root);
    changed = true;
  }
  for (let i = 0; i < MAX_ROTATIONS; i++) {
    const v = root.signed.version + 1;
    const next = (await repoRoot(trustedRootDir, v)) ?? (mirror ? await mirrorRoot(mirror, v) : null);
    if (!next) break;
    verifyRootRotation(root, next);
    root = next;
    changed = true;
  }
  if (Date.parse(root.signed.expires) <= now.getTime())
    throw refuse('expired', `trusted root v${root.signed.version} expired at ${root.signed.expires}`);
  if (changed) await writeFileAtomic(statePath, `${JSON.stringify(root, null, 2)}\n`, { mkdirMode: 0o700 });
  return root;
}

/** Reads the explicitly trusted developer keys. */
export function readTrustedKeys(stateBundlesDir: string): Promise<TrustedKeys> {
  return readState(join(stateBundlesDir, 'trusted-keys.json'), TrustedKeysSchema(), { keys: [] });
}

/** Adds a developer key from a key file (public half only); returns its key id. */
export async function addTrustedKey(
  stateBundlesDir: string,
  keyFile: string,
  now: Date,
): Promise<{ keyId: string; added: boolean }> {
  const parsed = PublicKeyFileSchema().safeParse(
    await readJson(keyFile).catch((e: unknown) => {
      throw new ShadowboxError(
        ErrorCodes.InvalidParams,
        'key_file_unreadable',
        `cannot read key file ${keyFile}`,
        {},
        { cause: e },
      );
    }),
  );
  if (!parsed.success)
    throw new ShadowboxError(
      ErrorCodes.InvalidParams,
      'key_file_invalid',
      `${keyFile} is not a shadowbox ed25519 key file`,
    );
  const pub = publicOf(parsed.data);
  const keyId = keyIdOf(pub);
  if (keyId !== parsed.data.keyid)
    throw new ShadowboxError(ErrorCodes.InvalidParams, 'key_file_invalid', `${keyFile}: keyid does not match the key`);
  const cur = await readTrustedKeys(stateBundlesDir);
  if (cur.keys.some((k) => k.keyid === keyId)) return { keyId, added: false };
  cur.keys.push({ keyid: keyId, public: pub.public, addedAt: now.toISOString(), source: keyFile });
  await writeFileAtomic(join(stateBundlesDir, 'trusted-keys.json'), `${JSON.stringify(cur, null, 2)}\n`, {
    mkdirMode: 0o700,
  });
  return { keyId, added: true };
}

/** Reads the checkout's local build public key, if a local build has made one. */
export async function readLocalKey(path: string): Promise<PublicKey | null> {
  const r = PublicKeyFileSchema().safeParse(await readJson(path).catch(() => null), ONCE);
  return r.success ? publicOf(r.data) : null;
}

/**
 * Authorities that may sign for a source, official first. The local build key is accepted only for
 * the configured local output folder and only if the root allows it; it never applies to a mirror.
 */
export function authoritiesFor(
  root: RootEnvelope,
  devKeys: TrustedKeys,
  localKey: PublicKey | null,
  source: { isLocalOutput: boolean },
): Authority[] {
  const revoked = new Set(root.signed.revoked);
  const out = [officialAuthority(root)];
  for (const k of devKeys.keys)
    out.push(singleKeyAuthority('developer', { keytype: 'ed25519', scheme: 'ed25519', public: k.public }, revoked));
  if (localKey && source.isLocalOutput && root.signed.localBuild.allowed)
    out.push(singleKeyAuthority('local', localKey, revoked));
  return out;
}
