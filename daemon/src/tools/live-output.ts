import type { ToolProgress } from './define.js';

/**
 * Why: live output goes to every attached client while a command runs, but a session event per pipe
 * read would flood the event log; chunks are joined and sent at most every `intervalMs`, and past
 * `maxBytes` per run nothing more is sent live (one note says so — the result still carries the output).
 */
export class LiveOutput {
  private pending: ToolProgress[] = [];
  private sent = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly send: (c: ToolProgress) => void,
    private readonly maxBytes = 256 * 1024,
    private readonly intervalMs = 100,
  ) {}

  push(stream: ToolProgress['stream'], text: string): void {
    if (this.stopped || text === '') return;
    const last = this.pending[this.pending.length - 1];
    if (last?.stream === stream) last.text += text;
    else this.pending.push({ stream, text });
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  /** Sends what is pending now (also at the end of the run). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const c of this.pending) {
      if (this.stopped) break;
      const room = this.maxBytes - this.sent;
      const bytes = Buffer.byteLength(c.text);
      if (bytes > room) {
        this.send({ stream: c.stream, text: Buffer.from(c.text).subarray(0, room).toString('utf8') });
        this.send({
          stream: 'stderr',
          text: `\n[live output stops here (${this.maxBytes} bytes); the result has the rest]\n`,
        });
        this.stopped = true;
        break;
      }
      this.sent += bytes;
      this.send(c);
    }
    this.pending = [];
  }

  close(): void {
    this.flush();
    this.stopped = true;
  }
}
