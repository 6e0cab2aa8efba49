import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { canonicalJson } from './canonical.js';
import type { DaemonKey } from './keys.js';

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));

/** A signed statement "entry `seq` of this workspace's log has hash `hash`", by the daemon key. */
export const Checkpoint = lazySchema(() =>
  z
    .object({
      v: z.literal(1),
      seq: z.number().int().nonnegative(),
      hash: hex(64),
      time: z.string(),
      keyId: z.string(),
      sig: hex(128),
    })
    .strict(),
);
export type Checkpoint = z.infer<ReturnType<typeof Checkpoint>>;

/** A checkpoint as a log line: `{"checkpoint":{…}}` (not an entry: it has no seq of its own). */
export const CheckpointLine = lazySchema(() => z.object({ checkpoint: Checkpoint() }).strict());

// What the signature covers: the workspace too, so a checkpoint cannot be replayed into another log.
function message(workspace: string, c: Pick<Checkpoint, 'seq' | 'hash' | 'time'>): Uint8Array {
  return Buffer.from(
    canonicalJson({ purpose: 'shadowbox-audit-checkpoint', v: 1, workspace, seq: c.seq, hash: c.hash, time: c.time }),
  );
}

/** Signs (seq, hash) of the last entry. */
export function signCheckpoint(key: DaemonKey, workspace: string, seq: number, hash: string, time: string): Checkpoint {
  const sig = Buffer.from(key.sign(message(workspace, { seq, hash, time }))).toString('hex');
  return { v: 1, seq, hash, time, keyId: key.keyId, sig };
}

/** Whether a checkpoint was signed by this key for this workspace. */
export function checkCheckpoint(key: DaemonKey | null, workspace: string, c: Checkpoint): boolean {
  if (!key || c.keyId !== key.keyId) return false;
  return key.verify(message(workspace, c), Buffer.from(c.sig, 'hex'));
}
