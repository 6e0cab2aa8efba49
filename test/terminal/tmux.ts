import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot, shadowboxBin } from '../helpers/daemon.js';

const run = promisify(execFile);

/** Is tmux installed? The terminal tests need it (Debian package `tmux`). */
export async function haveTmux(): Promise<boolean> {
  try {
    await run('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
}

/**
 * A private tmux server (its own socket, `tmux -L name`) holding real terminals that run the
 * shadowbox binary; keys go in with send-keys, the screen comes back with capture-pane.
 */
export class Tmux {
  constructor(readonly socket: string) {}

  private tmux(args: string[]) {
    return run('tmux', ['-L', this.socket, ...args], { cwd: repoRoot });
  }

  /** Starts a 120×40 terminal named `name` running `shadowbox ARGS` with this environment. */
  async start(name: string, args: string[], env: NodeJS.ProcessEnv, cwd = repoRoot): Promise<void> {
    const vars = Object.entries(env)
      .filter(
        ([k, v]) => v !== undefined && /^(SHADOWBOX_|OPENAI_|ANTHROPIC_|NO_COLOR|HOME$|PATH$|LANG$|LC_ALL$)/.test(k),
      )
      .flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    // The shell wrapper keeps the pane open after the CLI exits, so the exit code and last screen can be read.
    const command = `${shq(process.execPath)} ${shq(shadowboxBin)} ${args.map(shq).join(' ')}; echo "[exit $?]"; sleep 600`;
    await this.tmux([
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      '120',
      '-y',
      '40',
      '-c',
      cwd,
      ...vars,
      '-e',
      'TERM=xterm-256color',
      command,
    ]);
  }

  /** Types text literally (no key names). */
  async type(name: string, text: string): Promise<void> {
    await this.tmux(['send-keys', '-t', name, '-l', text]);
  }

  /** Sends key names: Enter, C-c, C-d, Tab… */
  async keys(name: string, ...keys: string[]): Promise<void> {
    await this.tmux(['send-keys', '-t', name, ...keys]);
  }

  /**
   * Pastes text as a terminal does: through a tmux buffer, with `paste-buffer -p` so the text is wrapped in
   * bracketed-paste markers when the application turned that mode on (tmux sends newlines as CR, as terminals do).
   */
  async paste(name: string, text: string): Promise<void> {
    const buffer = `paste-${name}`;
    await this.tmux(['set-buffer', '-b', buffer, '--', text]);
    await this.tmux(['paste-buffer', '-p', '-d', '-b', buffer, '-t', name]);
  }

  /** Types a line and presses Enter. */
  async line(name: string, text: string): Promise<void> {
    await this.type(name, text);
    await this.keys(name, 'Enter');
  }

  /** The visible screen plus scrollback (plain text, trailing blanks trimmed). */
  async capture(name: string): Promise<string> {
    const { stdout } = await this.tmux(['capture-pane', '-p', '-J', '-t', name, '-S', '-2000']);
    return stdout.replace(/\s+$/, '');
  }

  /** The screen with colors (escape sequences kept). */
  async captureColors(name: string): Promise<string> {
    const { stdout } = await this.tmux(['capture-pane', '-p', '-e', '-J', '-t', name, '-S', '-2000']);
    return stdout;
  }

  /** Waits until the screen matches; returns it. Fails with the last screen. */
  async waitFor(
    name: string,
    match: RegExp | string | ((screen: string) => boolean),
    timeoutMs = 20_000,
  ): Promise<string> {
    const test =
      typeof match === 'function'
        ? match
        : typeof match === 'string'
          ? (s: string) => s.includes(match)
          : (s: string) => match.test(s);
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    while (Date.now() < deadline) {
      screen = await this.capture(name);
      if (test(screen)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`terminal ${name} never showed ${String(match)}; screen:\n${screen}`);
  }

  /** Kills the whole tmux server of this socket. */
  async kill(): Promise<void> {
    await this.tmux(['kill-server']).catch(() => undefined);
  }
}

function shq(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** How many times `needle` occurs in `screen`. */
export function count(screen: string, needle: string | RegExp): number {
  if (typeof needle === 'string') return screen.split(needle).length - 1;
  return [...screen.matchAll(new RegExp(needle.source, needle.flags.includes('g') ? needle.flags : `${needle.flags}g`))]
    .length;
}
