// grep's hand-off between its walk and its searches: files go in as the walk finds them (in walk
// order, each with its index in the whole list), searches take them as they come, so the first
// matches arrive before the walk ends and a search that has enough stops the walk.

/** A file of the walk: its index in walk order and its workspace-relative path. */
export interface QueuedFile {
  k: number;
  path: string;
}

/** An ordered queue with any number of waiting takers; closed when the walk ends. */
export class FileQueue {
  private readonly items: QueuedFile[] = [];
  private head = 0;
  private closed = false;
  private waiters: Array<() => void> = [];
  /** Files pushed so far. */
  get pushed(): number {
    return this.items.length;
  }

  push(k: number, path: string): void {
    this.items.push({ k, path });
    this.wakeAll();
  }

  /** No more files will come. */
  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  /**
   * The next files in order, at most `max`, once `atLeast` of them are queued (or the queue is
   * closed); an empty list means closed and drained.
   */
  async take(max: number, atLeast = 1): Promise<QueuedFile[]> {
    while (!this.closed && this.items.length - this.head < atLeast)
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    const out = this.items.slice(this.head, this.head + max);
    this.head += out.length;
    return out;
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
