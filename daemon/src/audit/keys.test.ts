// The daemon key signs with node:crypto (issue 20: tweetnacl took ~4–6 ms inside every accept, reject and
// undo): the signatures must be the Ed25519 bytes tweetnacl makes from the same seed, so checkpoints signed
// before and after the change verify alike, and a signature over other bytes must not verify.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
