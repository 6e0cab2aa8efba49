import type { AuditEntry } from '@shadowbox/protocol';
import { canonicalize, sha256Hex } from '../canonical.js';

export { sha256Hex };

export type Entry = AuditEntry;

/** RFC 8785 canonical JSON text: what hashes and signatures cover. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no canonical JSON form');
  return text;
}

/** The hash of an entry: sha256 over the canonical JSON of every field but `hash`. */
export function entryHash(e: Omit<Entry, 'hash'>): string {
  const body: Record<string, unknown> = { seq: e.seq, time: e.time, type: e.type, data: e.data, prevHash: e.prevHash };
  if (e.sessionId !== undefined) body.sessionId = e.sessionId;
  return sha256Hex(canonicalJson(body));
}

/** The prevHash of entry 1: binds a log to its workspace, so entries cannot be moved between logs. */
export function genesisHash(workspace: string): string {
  return sha256Hex(`shadowbox-audit-v1\0${workspace}`);
}

/**
 * The prevHash of the first entry of a new segment (started at `seq` after the writer found the previous
 * chain broken): bound to the workspace and the seq, never to the broken chain it refuses to extend.
 */
export function segmentGenesisHash(workspace: string, seq: number): string {
  return sha256Hex(`shadowbox-audit-v1\0${workspace}\0segment\0${seq}`);
}
