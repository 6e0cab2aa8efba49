import readline from 'node:readline';
import { stripVTControlCharacters } from 'node:util';
import type { Look, TerminalIo } from './io.js';

/** A line kept at the bottom of the terminal and redrawn in place (streaming text, running tools). */
export interface LiveLine {
  render: (frame: string, now: number) => string;
  /** Animated: the screen redraws it on a timer while it exists. */
  spin?: boolean;
}

/** The readline prompt currently drawn below the live lines, if any. */
export interface PromptOwner {
  /** Rows between the prompt's first row and the cursor (the typed line may wrap). */
  cursorRows(): number;
  /** Redraws prompt and typed text at the cursor (readline's prompt(true)). */
  redraw(): void;
}

/** Streaming text first, then running tools, the turn spinner, typed-ahead text, and any question at the bottom. */
const order = (key: string) =>
  key === 'text' ? 0 : key === '~question' ? 4 : key === '~ahead' ? 3 : key.startsWith('~') ? 2 : 1;

const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * The terminal output: finished lines scroll up as a transcript; live lines (and the prompt, when
 * one is shown) stay at the bottom and are erased and redrawn around every new transcript line with
 * Node's readline cursor functions. Not a TTY: lines are written as they come, live lines are dropped.
 */
export class Screen {
  private readonly live = new Map<string, LiveLine>();
  private drawnRows = 0;
  private prompt: PromptOwner | null = null;
  private timer: NodeJS.Timeout | null = null;
  private frame = 0;

  constructor(
    private readonly io: TerminalIo,
    readonly look: Look,
    private readonly now: () => number = Date.now,
  ) {}

  /** Appends finished lines to the transcript. */
  print(lines: string | string[]): void {
    const text = (Array.isArray(lines) ? lines : [lines]).join('\n');
    if (!this.look.tty) {
      this.io.stdout.write(`${text}\n`);
      return;
    }
    this.erase();
    this.io.stdout.write(`${text}\n`);
    this.draw();
  }

  /** Writes text that may end mid-line (plain mode streaming only). */
  writeRaw(text: string): void {
    this.io.stdout.write(text);
  }

  /** Sets, replaces or (with null) removes a live line. */
  setLive(key: string, line: LiveLine | null): void {
    if (!this.look.tty) return;
    if (line) this.live.set(key, line);
    else if (!this.live.delete(key)) return;
    this.redraw();
    this.updateTimer();
  }

  hasLive(key: string): boolean {
    return this.live.has(key);
  }

  /** A readline prompt is now drawn at the cursor, below the live lines. */
  attachPrompt(owner: PromptOwner): void {
    this.prompt = owner;
  }

  /** Removes the prompt from the screen (before readline closes without a line being entered). */
  detachPrompt(): void {
    if (!this.prompt) return;
    if (this.look.tty) this.erase();
    this.prompt = null;
    if (this.look.tty) this.draw();
  }

  /**
   * The person entered a line: readline already moved to a new row. Keep "prompt + line" in the
   * transcript above the live lines.
   */
  promptEntered(echo: string): void {
    this.prompt = null;
    if (!this.look.tty || this.drawnRows === 0) return;
    readline.cursorTo(this.io.stdout, 0);
    readline.moveCursor(this.io.stdout, 0, -(this.drawnRows + this.rowsOf(echo)));
    readline.clearScreenDown(this.io.stdout);
    this.drawnRows = 0;
    this.io.stdout.write(`${echo}\n`);
    this.draw();
  }

  /** Redraws live lines (and the prompt) in place. */
  redraw(): void {
    if (!this.look.tty) return;
    this.erase();
    this.draw();
  }

  /** Stops the spinner timer and clears the live area (end of the program). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.look.tty) return;
    this.live.clear();
    this.erase();
  }

  private erase(): void {
    const up = this.drawnRows + (this.prompt ? this.prompt.cursorRows() : 0);
    if (up === 0 && !this.prompt) return;
    readline.cursorTo(this.io.stdout, 0);
    if (up) readline.moveCursor(this.io.stdout, 0, -up);
    readline.clearScreenDown(this.io.stdout);
    this.drawnRows = 0;
  }

  private draw(): void {
    const now = this.now();
    const f = frames[this.frame % frames.length];
    const lines = [...this.live.entries()].sort(([a], [b]) => order(a) - order(b)).map(([, l]) => l.render(f, now));
    let rows = 0;
    for (const l of lines) {
      this.io.stdout.write(`${l}\n`);
      rows += this.rowsOf(l);
    }
    this.drawnRows = rows;
    this.prompt?.redraw();
  }

  /** Screen rows a line takes (it may hold newlines and wrap). */
  private rowsOf(line: string): number {
    return stripVTControlCharacters(line)
      .split('\n')
      .reduce((n, part) => n + Math.max(1, Math.ceil([...part].length / this.look.width())), 0);
  }

  private updateTimer(): void {
    const spinning = [...this.live.values()].some((l) => l.spin);
    if (spinning && !this.timer) {
      this.timer = setInterval(() => {
        this.frame++;
        this.redraw();
      }, 100);
      this.timer.unref();
    } else if (!spinning && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
