import pc from 'picocolors';

/** Streams and environment of one CLI invocation, the same shape the daemon's CLI passes to every command. */
export interface TerminalIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
}

/** picocolors' formatter set (identity functions when colors are off). */
export type Colors = ReturnType<typeof pc.createColors>;

/** What the terminal can do: a TTY gets spinners and live redraws; colors also need NO_COLOR unset. */
export interface Look {
  tty: boolean;
  colors: Colors;
  /** Terminal width in columns (80 when unknown). */
  width: () => number;
}

/** Decides the look from the streams: pipes get plain text, NO_COLOR (any value) turns colors off, FORCE_COLOR=0 too. */
export function lookFor(io: TerminalIo): Look {
  const tty = Boolean(io.stdout.isTTY);
  const noColor = io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '';
  const enabled = tty && !noColor && io.env.FORCE_COLOR !== '0' && io.env.TERM !== 'dumb';
  return {
    tty,
    colors: pc.createColors(enabled),
    width: () => (io.stdout.columns && io.stdout.columns > 0 ? io.stdout.columns : 80),
  };
}
