import { createWriteStream, type WriteStream } from 'node:fs';
import { format } from 'node:util';

/** The daemon's logger: injected everywhere, never console.* in library code. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
  /** Flushes and closes the log file. */
  close(): Promise<void>;
}

/** A logger writing a file: also says whether the file is currently failing (a full disk). */
export interface FileLogger extends Logger {
  /** True after a write to the log file failed, until a later write reopens it. */
  failing(): boolean;
}

/** Where the logger writes, and how soon it retries its file after a failed write. */
export interface LoggerOptions {
  file?: string;
  stderr?: boolean;
  debug?: boolean;
  /** After a failed write, the file is reopened on the first line logged this long later (default 1,000 ms). */
  retryMs?: number;
  /** Clock for the retry wait (tests inject one). */
  now?: () => number;
}

/**
 * Logs to a file (append) and optionally to stderr; never to stdout (stdout belongs to --stdio). A
 * failed write (a full disk) never silences the log for good: lines are counted and dropped while
 * the file cannot be written, and the first line logged after `retryMs` reopens it, preceded by a
 * line saying how many were lost.
 */
export function createLogger(options: LoggerOptions): FileLogger {
  const now = options.now ?? Date.now;
  const retryMs = options.retryMs ?? 1000;
  let stream: WriteStream | undefined;
  let failure: { at: number; code: string } | null = null;
  let dropped = 0;
  let closed = false;

  const open = (file: string): WriteStream => {
    const s = createWriteStream(file, { flags: 'a', mode: 0o600 });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (stream === s) stream = undefined;
      failure = { at: now(), code: e.code ?? 'error' };
      s.destroy();
    });
    return s;
  };
  if (options.file) stream = open(options.file);

  const toFile = (file: string, line: string) => {
    if (!stream && failure && !closed && now() - failure.at >= retryMs) {
      failure = null;
      stream = open(file);
      if (dropped > 0) {
        const lost = dropped;
        const notice = `${new Date().toISOString()} warn log: ${lost} line(s) were dropped while ${file} could not be written\n`;
        stream.write(notice, (err) => {
          if (!err) dropped -= lost;
        });
      }
    }
    if (stream) stream.write(line);
    else dropped++;
  };

  const write = (level: string, msg: string) => {
    const line = `${new Date().toISOString()} ${level} ${oneLine(msg)}\n`;
    if (options.file) toFile(options.file, line);
    if (options.stderr) process.stderr.write(line);
  };
  return {
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    debug: (m) => options.debug && write('debug', m),
    failing: () => failure !== null,
    close: () =>
      new Promise((resolve) => {
        closed = true;
        const s = stream;
        stream = undefined;
        if (!s) return resolve();
        s.end(() => resolve());
        // A stream that fails while ending never calls back: resolve on its error too.
        s.once('error', () => resolve());
      }),
  };
}

/**
 * A message as one line of the log: its control characters (line breaks, escape sequences) written as escapes. Log
 * messages carry what others chose (paths, tool and server names a model or an editor picked), and a line break in
 * one would otherwise start a line that reads as the daemon's own.
 */
export function oneLine(msg: string): string {
  return msg.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Makes every `console` method of this process write one line per call to `out`, control characters escaped as
 * `oneLine` does. Library code never uses `console`, but the packages the daemon hosts do: the ACP SDK reports a
 * response to an unknown request with the editor's id verbatim, and a line break in that id would start a line of
 * `daemon.out` that reads as the daemon's own. `console.log` goes to `out` too: with `--stdio` stdout is the protocol.
 */
export function consoleAsOneLine(out: { write(text: string): unknown }): void {
  const write = (...args: unknown[]): void => {
    out.write(`${oneLine(format(...args))}\n`);
  };
  console.log = console.info = console.debug = console.warn = console.error = write;
}

/** A logger that drops everything (tests, short CLI commands). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {}, close: async () => {} };
