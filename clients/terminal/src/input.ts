import readline from 'node:readline';
import type { TerminalIo } from './io.js';
import type { Screen } from './screen.js';

/** What reading a line gave: the text, an interrupt (Ctrl-C, with what was typed), or the end of input. */
export type LineResult = { kind: 'line'; text: string } | { kind: 'interrupt'; text: string } | { kind: 'eof' };

/** A key that matters while no line is being read (a turn runs): Ctrl-C, or Ctrl-D / end of input. */
export type ControlKey = 'interrupt' | 'eof';

/** Reads the person's input: prompt lines, single-key answers, and Ctrl-C / Ctrl-D while a turn runs. */
export interface Input {
  readLine(prompt: string): Promise<LineResult>;
  /** Changes the prompt of the line being read (the driver role changed meanwhile). */
  setPrompt(prompt: string): void;
  /** Asks a question answered by one of `keys` (TTY: a key press; pipe: the next line). null when aborted or input ended. */
  choose(question: string, keys: string[], signal: AbortSignal): Promise<string | null>;
  onControl(handler: (k: ControlKey) => void): void;
  /** The turn was cancelled: lines queued with Enter during it are not sent; they come back into the next prompt. */
  unqueue(): void;
  close(): void;
}

export type Completer = (line: string) => [string[], string];

/** Creates the input for these streams: readline with history and completion on a TTY, a line queue on a pipe. */
export function createInput(io: TerminalIo, screen: Screen, completer: Completer): Input {
  return io.stdin.isTTY && io.stdout.isTTY ? new TtyInput(io, screen, completer) : new PipeInput(io, screen);
}

interface PendingLine {
  prompt: string;
  saved: string;
  /** Where the cursor was in `saved` (its end when unset). */
  cursor?: number;
  resolve: (r: LineResult) => void;
}
interface PendingChoice {
  keys: string[];
  resolve: (k: string | null) => void;
}

/** Bracketed paste (xterm): the terminal wraps pasted text in ESC[200~ … ESC[201~, which node:readline's
 * keypress decoder reports as the keys `paste-start` and `paste-end`. */
const PASTE_ON = '\x1b[?2004h';
const PASTE_OFF = '\x1b[?2004l';

/** A multi-line paste stands in the line as this marker until the line is sent; then the text replaces it. */
const pasteMarker = (n: number, lines: number) => `[pasted text #${n}: ${lines} line${lines === 1 ? '' : 's'}]`;
const PASTE_MARKER = /\[pasted text #(\d+): \d+ lines\]/g;

/**
 * TTY input. A readline interface exists only while a prompt line is read, so output streamed during a
 * turn is never mixed with typing; between prompts the keys come from keypress events in raw mode.
 * A question (permission) suspends an open prompt and restores what was typed afterwards.
 *
 * Bracketed paste is on while the client runs: a paste is collected whole (its Enters do not send lines) and
 * goes into the line at the cursor — as typed when it is one line, as a `[pasted text #N: K lines]` marker
 * when it has several, so the line stays editable and Enter sends the whole text as one prompt.
 */
class TtyInput implements Input {
  private rl: readline.Interface | null = null;
  private line: PendingLine | null = null;
  private choice: PendingChoice | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private history: string[] = [];
  private control: (k: ControlKey) => void = () => {};
  private closed = false;
  /** Typed while no prompt was open (a turn ran): the text in progress, and lines finished with Enter. */
  private ahead = '';
  private queued: string[] = [];
  /** The text of the paste being received (between paste-start and paste-end), else null. */
  private pasting: string | null = null;
  /** Multi-line pastes by marker number; kept for the session so a recalled history line still expands. */
  private readonly pastes = new Map<number, string>();
  private readonly onKeypress = (s: string | undefined, key: readline.Key | undefined) => this.keypress(s, key);
  private readonly onSigint = () => this.control('interrupt');
  private readonly onExit = () => this.io.stdout.write(PASTE_OFF);

  constructor(
    private readonly io: TerminalIo,
    private readonly screen: Screen,
    private readonly completer: Completer,
  ) {
    readline.emitKeypressEvents(io.stdin);
    io.stdin.on('keypress', this.onKeypress);
    process.on('SIGINT', this.onSigint);
    io.stdout.write(PASTE_ON);
    // A crash must not leave the person's shell receiving bracketed pastes.
    process.once('exit', this.onExit);
    this.rawKeys();
  }

  onControl(handler: (k: ControlKey) => void): void {
    this.control = handler;
  }

  readLine(prompt: string): Promise<LineResult> {
    const next = this.choice ? undefined : this.queued.shift();
    if (next !== undefined) {
      // A line typed ahead during the turn: sent now, echoed as if typed at this prompt.
      this.showAhead();
      this.screen.print(`${prompt}${next}`);
      return Promise.resolve({ kind: 'line', text: this.expand(next) });
    }
    return new Promise((resolve) => {
      const saved = this.ahead;
      this.ahead = '';
      this.showAhead();
      this.line = { prompt, saved, resolve };
      if (!this.choice) this.open();
    });
  }

  unqueue(): void {
    if (!this.queued.length) return;
    this.ahead = [...this.queued, this.ahead].filter(Boolean).join(' ');
    this.queued = [];
    this.showAhead();
  }

  /** The typed-ahead text as a live line above the prompt position. */
  private showAhead(): void {
    const c = this.screen.look.colors;
    if (!this.ahead && !this.queued.length) return this.screen.setLive('~ahead', null);
    this.screen.setLive('~ahead', {
      render: () =>
        `${this.queued.map((q) => `${c.dim('queued ›')} ${q}\n`).join('')}${c.dim('next ›')} ${this.ahead}${c.dim(this.queued.length ? '  (queued lines are sent when the turn ends)' : '  (Enter queues it)')}`,
    });
  }

  setPrompt(prompt: string): void {
    if (!this.line || this.line.prompt === prompt) return;
    this.line.prompt = prompt;
    if (this.rl) {
      this.rl.setPrompt(prompt);
      this.screen.redraw();
    }
  }

  choose(question: string, keys: string[], signal: AbortSignal): Promise<string | null> {
    const run = () =>
      new Promise<string | null>((resolve) => {
        if (signal.aborted || this.closed) return resolve(null);
        this.suspend();
        const done = (k: string | null) => {
          signal.removeEventListener('abort', onAbort);
          this.choice = null;
          this.screen.setLive('~question', null);
          resolve(k);
          if (this.line && !this.rl) this.open();
          else this.rawKeys();
        };
        const onAbort = () => done(null);
        signal.addEventListener('abort', onAbort, { once: true });
        this.choice = { keys, resolve: done };
        this.screen.setLive('~question', { render: () => question });
        this.rawKeys();
      });
    const next = this.chain.then(run, run);
    this.chain = next;
    return next;
  }

  close(): void {
    this.closed = true;
    this.choice?.resolve(null);
    if (this.rl) this.suspend();
    this.io.stdin.off('keypress', this.onKeypress);
    process.off('SIGINT', this.onSigint);
    process.off('exit', this.onExit);
    this.io.stdout.write(PASTE_OFF);
    this.io.stdin.setRawMode?.(false);
    this.io.stdin.pause();
  }

  private rawKeys(): void {
    if (this.closed || this.rl) return;
    this.io.stdin.setRawMode?.(true);
    this.io.stdin.resume();
  }

  private keypress(s: string | undefined, key: readline.Key | undefined): void {
    if (this.closed || !key) return;
    if (key.name === 'paste-start') return this.pasteStart();
    if (this.pasting !== null) {
      if (key.name === 'paste-end') this.pasteEnd();
      else this.pasting += key.sequence ?? s ?? '';
      return;
    }
    if (this.rl) return;
    if (key.ctrl && key.name === 'c') return this.control('interrupt');
    if (key.ctrl && key.name === 'd') return this.control('eof');
    const name = (key.sequence ?? key.name ?? '').toLowerCase();
    if (this.choice) {
      if (this.choice.keys.includes(name)) this.choice.resolve(name);
      return;
    }
    // No prompt and no question: a turn is running. Keep what is typed for the next prompt.
    if (key.name === 'return' || key.name === 'enter') {
      if (!this.ahead.trim()) return;
      this.queued.push(this.ahead);
      this.ahead = '';
    } else if (key.name === 'backspace') this.ahead = [...this.ahead].slice(0, -1).join('');
    else if (key.ctrl && key.name === 'u') this.ahead = '';
    else if (!key.ctrl && !key.meta && key.sequence && !/[\x00-\x1f\x7f]/.test(key.sequence))
      this.ahead += key.sequence;
    else return;
    this.showAhead();
  }

  private open(): void {
    const pending = this.line;
    if (!pending || this.closed) return;
    const rl = readline.createInterface({
      input: this.io.stdin,
      output: this.io.stdout,
      terminal: true,
      history: [...this.history],
      historySize: 500,
      removeHistoryDuplicates: true,
      completer: this.completer,
      prompt: pending.prompt,
    });
    this.rl = rl;
    rl.on('history', (h: string[]) => (this.history = [...h]));
    this.screen.attachPrompt({ cursorRows: () => rl.getCursorPos().rows, redraw: () => rl.prompt(true) });
    rl.prompt();
    if (pending.saved) {
      rl.write(pending.saved);
      // Back to where the cursor was (a paste in the middle of the line leaves it after the pasted text).
      for (let back = [...pending.saved.slice(pending.cursor ?? pending.saved.length)].length; back > 0; back--)
        rl.write(null, { name: 'left' });
    }
    let finished = false;
    const finish = (r: LineResult) => {
      finished = true;
      this.line = null;
      this.rl = null;
      rl.close();
      this.rawKeys();
      pending.resolve(r);
    };
    rl.on('line', (text) => {
      this.screen.promptEntered(`${pending.prompt}${text}`);
      finish({ kind: 'line', text: this.expand(text) });
    });
    rl.on('SIGINT', () => {
      const text = rl.line;
      this.screen.detachPrompt();
      this.screen.print(`${pending.prompt}${text}${this.screen.look.colors.dim('^C')}`);
      finish({ kind: 'interrupt', text });
    });
    rl.on('close', () => {
      // Ctrl-D on an empty line (or the input ended); not our own close (readline's cleanup also listens here).
      if (finished || this.rl !== rl) return;
      this.screen.detachPrompt();
      this.line = null;
      this.rl = null;
      pending.resolve({ kind: 'eof' });
    });
  }

  /**
   * A paste begins. An open prompt is closed first (what was typed is kept with the cursor), so readline
   * never sees the pasted Enters; this listener runs before readline's, so readline misses only the paste-start key.
   */
  private pasteStart(): void {
    if (this.pasting !== null) return;
    this.pasting = '';
    if (!this.rl) return;
    this.suspend();
    this.rawKeys();
  }

  /** The paste ended: its text goes where the person was typing (the prompt, or the typed-ahead line); a question ignores it. */
  private pasteEnd(): void {
    const text = (this.pasting ?? '')
      .replace(/\r\n?/g, '\n')
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
      .replace(/\n$/, '');
    this.pasting = null;
    let insert = text;
    if (text.includes('\n')) {
      const n = this.pastes.size + 1;
      this.pastes.set(n, text);
      insert = pasteMarker(n, text.split('\n').length);
    }
    if (this.line && !this.choice) {
      const at = this.line.cursor ?? this.line.saved.length;
      this.line.cursor = at + insert.length;
      this.line.saved = this.line.saved.slice(0, at) + insert + this.line.saved.slice(at);
      if (!this.rl) this.open();
    } else if (!this.choice && insert) {
      this.ahead += insert;
      this.showAhead();
    }
  }

  /** The line as sent: every paste marker replaced by the pasted text. */
  private expand(text: string): string {
    return text.replace(PASTE_MARKER, (m, n: string) => this.pastes.get(Number(n)) ?? m);
  }

  private suspend(): void {
    const rl = this.rl;
    if (!rl) return;
    if (this.line) {
      this.line.saved = rl.line;
      this.line.cursor = rl.cursor;
    }
    this.screen.detachPrompt();
    this.rl = null;
    rl.close();
  }
}

/** Piped input: one readline over the whole stream, lines handed out in order; nothing is echoed. */
class PipeInput implements Input {
  private readonly queue: string[] = [];
  private readonly waiting: Array<(l: string | null) => void> = [];
  private ended = false;
  private readonly rl: readline.Interface;
  private control: (k: ControlKey) => void = () => {};
  private readonly onSigint = () => this.control('interrupt');

  constructor(
    io: TerminalIo,
    private readonly screen: Screen,
  ) {
    this.rl = readline.createInterface({ input: io.stdin, terminal: false });
    this.rl.on('line', (l) => {
      const w = this.waiting.shift();
      if (w) w(l);
      else this.queue.push(l);
    });
    this.rl.on('close', () => {
      this.ended = true;
      for (const w of this.waiting.splice(0)) w(null);
    });
    process.on('SIGINT', this.onSigint);
  }

  onControl(handler: (k: ControlKey) => void): void {
    this.control = handler;
  }

  /** The next line; null at the end of input or when `signal` aborts (the line is then left for the next reader). */
  private next(signal?: AbortSignal): Promise<string | null> {
    if (this.queue.length) return Promise.resolve(this.queue.shift()!);
    if (this.ended || signal?.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiter = (l: string | null) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(l);
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(null);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  setPrompt(): void {}

  unqueue(): void {}

  async readLine(): Promise<LineResult> {
    const l = await this.next();
    return l === null ? { kind: 'eof' } : { kind: 'line', text: l };
  }

  async choose(question: string, _keys: string[], signal: AbortSignal): Promise<string | null> {
    if (signal.aborted) return null;
    this.screen.print(question);
    const answer = await this.next(signal);
    return answer === null ? null : answer.trim().toLowerCase();
  }

  close(): void {
    process.off('SIGINT', this.onSigint);
    this.rl.close();
  }
}
