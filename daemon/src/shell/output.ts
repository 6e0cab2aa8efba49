/** One chunk of live output. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  text: string;
}

/**
 * Why: a command may print 100 MB; the daemon keeps a bounded amount — the first and the last half of
 * the cap, in the order the two streams arrived — and says how much it dropped, so the model sees how a
 * test run started and how it ended. The stream is drained to the end (the command is never blocked
 * on a full pipe); only the time limit stops a command that keeps printing.
 */
export class CappedOutput {
  private readonly head: OutputChunk[] = [];
  private headBytes = 0;
  private tail: { stream: OutputChunk['stream']; bytes: Buffer }[] = [];
  private tailBytes = 0;
  /** Bytes seen in all. */
  total = 0;
  private readonly decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };

  constructor(private readonly cap: number) {}

  push(stream: OutputChunk['stream'], data: Buffer): void {
    this.total += data.byteLength;
    const half = Math.floor(this.cap / 2);
    if (this.headBytes < half) {
      const take = data.subarray(0, half - this.headBytes);
      this.head.push({ stream, text: this.decoders[stream].decode(take, { stream: true }) });
      this.headBytes += take.byteLength;
      data = data.subarray(take.byteLength);
      if (data.byteLength === 0) return;
    }
    this.tail.push({ stream, bytes: data });
    this.tailBytes += data.byteLength;
    // Drop whole chunks from the front while the rest still fills the tail.
    while (this.tail.length > 1 && this.tailBytes - this.tail[0].bytes.byteLength >= half) {
      this.tailBytes -= this.tail[0].bytes.byteLength;
      this.tail.shift();
    }
  }

  /** Bytes that were seen but are not kept. */
  get dropped(): number {
    return Math.max(0, this.total - this.headBytes - Math.min(this.tailBytes, Math.floor(this.cap / 2)));
  }

  /** The kept output per stream and interleaved, with a marker where bytes were dropped. */
  result(): { stdout: string; stderr: string; combined: string; truncated: boolean; totalBytes: number } {
    const half = Math.floor(this.cap / 2);
    let tail = this.tail;
    const extra = this.tailBytes - half;
    if (extra > 0 && tail.length > 0)
      tail = [{ stream: tail[0].stream, bytes: tail[0].bytes.subarray(extra) }, ...tail.slice(1)];
    const marker =
      this.dropped > 0
        ? `\n[… ${this.dropped} bytes of output dropped (kept: the first and the last ${half} bytes) …]\n`
        : '';
    const parts: OutputChunk[] = [...this.head];
    if (marker) parts.push({ stream: 'stdout', text: marker });
    const dec = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    for (const t of tail) parts.push({ stream: t.stream, text: dec[t.stream].decode(t.bytes, { stream: true }) });
    const of = (s: OutputChunk['stream']) =>
      parts
        .filter((p) => p.stream === s)
        .map((p) => p.text)
        .join('');
    return {
      stdout: of('stdout'),
      stderr: parts
        .filter((p) => p.stream === 'stderr')
        .map((p) => p.text)
        .join(''),
      combined: parts.map((p) => p.text).join(''),
      truncated: this.dropped > 0,
      totalBytes: this.total,
    };
  }
}
