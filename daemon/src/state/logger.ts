import { createWriteStream, type WriteStream } from 'node:fs';

/** The daemon's logger: injected everywhere, never console.* in library code. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
  /** Flushes and closes the log file. */
  close(): Promise<void>;
}

/** Logs to a file (append) and optionally to stderr; never to stdout (stdout belongs to --stdio). */
export function createLogger(options: { file?: string; stderr?: boolean; debug?: boolean }): Logger {
  let stream: WriteStream | undefined = options.file
    ? createWriteStream(options.file, { flags: 'a', mode: 0o600 })
    : undefined;
  stream?.on('error', () => {
    stream = undefined;
  });
  const write = (level: string, msg: string) => {
    const line = `${new Date().toISOString()} ${level} ${msg}\n`;
    stream?.write(line);
    if (options.stderr) process.stderr.write(line);
  };
  return {
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    debug: (m) => options.debug && write('debug', m),
    close: () =>
      new Promise((resolve) => {
        if (!stream) return resolve();
        stream.end(() => resolve());
        stream = undefined;
      }),
  };
}

/** A logger that drops everything (tests, short CLI commands). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {}, close: async () => {} };
