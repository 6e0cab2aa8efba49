// The daemon key signs with node:crypto (issue 20: tweetnacl took ~4–6 ms inside every accept, reject and
// undo): the signatures must be the Ed25519 bytes tweetnacl makes from the same seed, so checkpoints signed
// before and after the change verify alike, and a signature over other bytes must not verify.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import nacl from 'tweetnacl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../state/index.js';
import { daemonKeyPath, loadOrCreateDaemonKey } from './keys.js';

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'sbx-keys-'));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('daemon key', () => {
  it('signs exactly as tweetnacl does from the same seed, and verifies only what it signed', async () => {
    const key = await loadOrCreateDaemonKey(stateDir, silentLogger);
    const file: unknown = JSON.parse(await readFile(daemonKeyPath(stateDir), 'utf8'));
    const seed = Buffer.from((file as { private: string }).private, 'hex');
    const pair = nacl.sign.keyPair.fromSeed(seed);
    for (const text of ['', 'checkpoint', 'x'.repeat(10_000)]) {
      const m = Buffer.from(text);
      const sig = key.sign(m);
      expect(Buffer.from(sig).toString('hex')).toBe(Buffer.from(nacl.sign.detached(m, pair.secretKey)).toString('hex'));
      expect(nacl.sign.detached.verify(m, sig, pair.publicKey)).toBe(true);
      expect(key.verify(m, sig)).toBe(true);
      expect(key.verify(Buffer.concat([m, Buffer.from('!')]), sig)).toBe(false);
    }
  });
});

describe('daemon key file', () => {
  const writeKey = async (seed: Uint8Array, publicHex: string) => {
    const body = { keytype: 'ed25519', public: publicHex, private: Buffer.from(seed).toString('hex') };
    await writeFile(daemonKeyPath(stateDir), JSON.stringify(body) + '\n', { mode: 0o600 });
  };

  it('derives from the seed the public half tweetnacl derives (keys written before the change load alike)', async () => {
    for (let i = 0; i < 8; i++) {
      const seed = nacl.randomBytes(32);
      const pair = nacl.sign.keyPair.fromSeed(seed);
      await writeKey(seed, Buffer.from(pair.publicKey).toString('hex'));
      const key = await loadOrCreateDaemonKey(stateDir, silentLogger);
      expect(Buffer.from(key.publicKey).toString('hex')).toBe(Buffer.from(pair.publicKey).toString('hex'));
      const m = Buffer.from(`entry ${i}`);
      expect(nacl.sign.detached.verify(m, key.sign(m), pair.publicKey)).toBe(true);
    }
  });

  it('refuses a key file whose public half is not the seed’s (key_corrupt), and leaves it as is', async () => {
    const seed = nacl.randomBytes(32);
    const other = nacl.sign.keyPair.fromSeed(nacl.randomBytes(32));
    await writeKey(seed, Buffer.from(other.publicKey).toString('hex'));
    const before = await readFile(daemonKeyPath(stateDir), 'utf8');
    await expect(loadOrCreateDaemonKey(stateDir, silentLogger)).rejects.toMatchObject({ reason: 'key_corrupt' });
    expect(await readFile(daemonKeyPath(stateDir), 'utf8')).toBe(before);
  });
});
