// grep's hand-off between its walk and its searches: files go in as the walk finds them (in walk
// order, each with its index in the whole list), searches take them as they come, so the first
// matches arrive before the walk ends and a search that has enough stops the walk.

/** A file of the walk: its index in walk order and its workspace-relative path. */
export interface QueuedFile {
  k: number;
  path: string;
  /** Set when every entry of the file's folder that is not a folder is a regular file queued for rg (RgFolder). */
  folder?: RgFolder;
}

/**
 * A folder whose listing the walk saw whole, every entry of it either a folder or a regular file the view vouched
 * for and queued for rg (no link, nothing ignored, denied, changed by the shadow or left out by the glob): rg may be
 * given the folder itself at depth 1 instead of its `files` paths, one object shared by them.
 */
export interface RgFolder {
  path: string;
  files: number;
}

/** An ordered queue with any number of waiting takers; closed when the walk ends. */
export class FileQueue {
  private readonly items: QueuedFile[] = [];
  private head = 0;
  private closed = false;
  /** Takers waiting, each for this many files past the head (woken only then, or at the close). */
  private waiters: Array<{ need: number; wake: () => void }> = [];
  /** The index up to which the taker has asked for files (Infinity once it takes no more). */
  private asked = 0;
  private roomWaiters: Array<() => void> = [];
  /** Files pushed so far. */
  get pushed(): number {
    return this.items.length;
  }

  push(k: number, path: string, folder?: RgFolder): void {
    this.items.push(folder ? { k, path, folder } : { k, path });
    if (this.waiters.length > 0) this.wake(this.items.length - this.head);
  }

  /** No more files will come. */
  close(): void {
    this.closed = true;
    this.wake(Infinity);
  }

  /**
   * The next files in order, at most `max`, once `atLeast` of them are queued (or the queue is
   * closed); an empty list means closed and drained.
   */
  async take(max: number, atLeast = 1): Promise<QueuedFile[]> {
    this.ask(this.head + max);
    while (!this.closed && this.items.length - this.head < atLeast)
      await new Promise<void>((resolve) => this.waiters.push({ need: atLeast, wake: resolve }));
    const out = this.items.slice(this.head, this.head + max);
    this.head += out.length;
    return out;
  }

  /**
   * Whether the queue already holds `ahead` files past what its taker asked for: the producer waits
   * (room()) instead of walking on to files no search may need (rg cannot stop early inside a run).
   */
  full(ahead: number): boolean {
    return this.items.length >= this.asked + ahead;
  }

  /**
   * Resolves once full(ahead) is false: the taker asked for more, or takes no more (done()). A function
   * is asked again at each wake-up (how far ahead the producer may go can change as the taker learns).
   */
  async room(ahead: number | (() => number)): Promise<void> {
    const n = typeof ahead === 'number' ? () => ahead : ahead;
    while (this.full(n())) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /** The taker is done (found enough, stopped, or failed): a waiting producer goes on. */
  done(): void {
    this.ask(Infinity);
  }

  private ask(upTo: number): void {
    if (upTo <= this.asked) return;
    this.asked = upTo;
    const w = this.roomWaiters;
    this.roomWaiters = [];
    for (const f of w) f();
  }

  /**
   * Wakes the takers that `ready` files satisfy. A taker waiting for 16,384 files was woken (a promise, a microtask)
   * at every one of them the walk pushed: ~10 ms of CPU in a 20,000-file grep.
   */
  private wake(ready: number): void {
    if (!this.waiters.some((w) => w.need <= ready)) return;
    const w = this.waiters;
    this.waiters = w.filter((x) => x.need > ready);
    for (const x of w) if (x.need <= ready) x.wake();
  }
}
