/** What the agent saw of one real file: its base (blob id and stat) and, while they fit, its bytes. */
export interface SeenRead {
  base: { type: 'file'; oid: string; mode: number; size: number; mtimeMs: number; ino: number };
  bytes?: Buffer;
}

/** Bounds: bytes kept for at most this much in total, files up to this size; read records up to this many. */
const MAX_BYTES = 32 * 1024 * 1024;
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_RECORDS = 50_000;

/**
 * Why: the real files a session's agent read in this process, in memory only. A later first write of
 * such a file is based on what the agent saw (so the person's edits since then merge at accept), but a
 * read must never copy the file into the layer: grep, list and sandboxed code read whole trees (one grep
 * over 20,000 files grew blobs.dat by 47 MB). The bytes are kept, least recently read dropped first,
 * only for the case where the person changed the file between the agent's read and its write.
 */
export class ReadMemory {
  private readonly reads = new Map<string, SeenRead>();
  private bytes = 0;

  /** Records a read (the newest read of a path wins). */
  remember(rel: string, base: SeenRead['base'], data: Uint8Array): void {
    this.forget(rel);
    const keep = data.byteLength <= MAX_FILE_BYTES;
    const r: SeenRead = keep ? { base, bytes: Buffer.from(data) } : { base };
    this.reads.set(rel, r);
    if (r.bytes) this.bytes += r.bytes.byteLength;
    for (const [k, v] of this.reads) {
      if (this.bytes <= MAX_BYTES && this.reads.size <= MAX_RECORDS) break;
      if (this.reads.size > MAX_RECORDS) this.forget(k);
      else if (v.bytes) {
        this.bytes -= v.bytes.byteLength;
        delete v.bytes;
      }
    }
  }

  get(rel: string): SeenRead | undefined {
    return this.reads.get(rel);
  }

  /** The record of a path, if it is the same content (a second read of unchanged bytes changes nothing). */
  has(rel: string, oid: string): boolean {
    return this.reads.get(rel)?.base.oid === oid;
  }

  forget(rel: string): void {
    const r = this.reads.get(rel);
    if (r?.bytes) this.bytes -= r.bytes.byteLength;
    this.reads.delete(rel);
  }

  /** Bytes held now (tests). */
  get heldBytes(): number {
    return this.bytes;
  }
}
