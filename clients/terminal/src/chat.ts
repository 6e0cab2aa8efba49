import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  ImageMimeType,
  MAX_IMAGE_BASE64_CHARS,
  type ImageBlock,
  type PermissionRequest,
  SessionAttach,
  SessionCancel,
  SessionConfigure,
  SessionCreate,
  SessionDetach,
  SessionPrompt,
  type ParamsOf,
  type ResultOf,
  type SessionEvent,
} from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { questionPreview } from './approval.js';
import { completeLine, describeError, runSlashCommand, type CommandContext } from './commands.js';
import { parsePermissionAnswer, permissionBlock, permissionChoices, type PermissionAnswer } from './format.js';
import { createInput, type ControlKey, type Input } from './input.js';
import { lookFor, type Look, type TerminalIo } from './io.js';
import { Screen } from './screen.js';
import { Transcript } from './transcript.js';

type SessionInfo = ResultOf<typeof SessionCreate>;

/** Where a chat starts: a new session on a workspace, or an existing one (as driver or watching). */
export type ChatStart =
  | { kind: 'create'; workspace: string; model?: string }
  | { kind: 'attach'; sessionId: string; driver: boolean; model?: string };

/**
 * One interactive terminal on one daemon connection: renders the session's events, reads prompts and
 * slash commands, answers permission questions inline, and maps Ctrl-C to session/cancel (twice: exit).
 */
export class Chat {
  private readonly look: Look;
  private readonly screen: Screen;
  private readonly input: Input;
  private transcript: Transcript;
  private session: SessionInfo | null = null;
  private attaching: SessionEvent[] | null = null;
  private remembered: string[] = [];
  private cancelSent = false;
  /** A prompt's turn ended otherwise than end_turn (or failed to start): a piped chat exits 1. */
  private failed = false;
  private lastWasInterrupt = false;
  private exitNow: () => void = () => {};
  private readonly exited: Promise<void>;

  constructor(
    private readonly io: TerminalIo,
    private readonly client: ShadowboxClient,
  ) {
    this.look = lookFor(io);
    this.screen = new Screen(io, this.look);
    this.transcript = new Transcript(this.screen, () => client.clientId);
    this.input = createInput(io, this.screen, (line) => completeLine(line, this.remembered));
    this.exited = new Promise((resolve) => (this.exitNow = resolve));
    this.input.onControl((k) => this.control(k));
    client.onEvent((e) => this.onEvent(e));
    client.onPermission((q, signal) => this.askPermission(q, signal));
    client.onClose(() => {
      this.screen.print(this.look.colors.red('the connection to the daemon closed'));
      this.exitNow();
    });
  }

  /** Runs until the person exits; returns the exit code. */
  async run(start: ChatStart): Promise<number> {
    const c = this.look.colors;
    try {
      if (start.kind === 'create') {
        const s = await this.client.request(SessionCreate, {
          workspace: start.workspace,
          ...(start.model ? { model: start.model } : {}),
        });
        await this.attach(s.sessionId, true);
      } else {
        await this.attach(start.sessionId, start.driver);
        if (start.model)
          await this.client.request(SessionConfigure, { sessionId: start.sessionId, model: start.model });
      }
      this.screen.print(
        c.dim('/help lists commands · Ctrl-C cancels a turn · Ctrl-D exits (the daemon keeps the session)'),
      );
      await this.loop();
    } finally {
      await this.leave();
    }
    // Interactive: the person saw every failure. Piped (a script): the exit code says whether all went well.
    return this.failed && !this.io.stdin.isTTY ? 1 : 0;
  }

  private current(): SessionInfo {
    if (!this.session) throw new Error('no session');
    return this.session;
  }

  private isDriver(): boolean {
    return this.transcript.driver === this.client.clientId;
  }

  private async loop(): Promise<void> {
    const c = this.look.colors;
    const exited = this.exited.then(() => 'exit' as const);
    for (;;) {
      let r = await Promise.race([this.input.readLine(this.promptText()), exited]);
      if (r === 'exit' || r.kind === 'eof') return;
      // A line ending in a backslash continues on the next one: a prompt of several lines.
      while (r.kind === 'line' && r.text.endsWith('\\')) {
        const more = await Promise.race([this.input.readLine(this.look.tty ? `${c.dim('…')} ` : ''), exited]);
        if (more === 'exit') return;
        if (more.kind !== 'line') {
          r = more.kind === 'eof' ? { kind: 'line', text: r.text.slice(0, -1) } : more;
          break;
        }
        r = { kind: 'line', text: `${r.text.slice(0, -1)}\n${more.text}` };
      }
      if (r.kind === 'interrupt') {
        if (this.transcript.runningTurn) {
          this.lastWasInterrupt = true;
          await this.cancelTurn();
        } else if (r.text) this.lastWasInterrupt = false;
        else if (this.lastWasInterrupt) return;
        else {
          this.lastWasInterrupt = true;
          this.screen.print(c.dim('(Ctrl-C again or Ctrl-D to exit; the daemon keeps the session)'));
        }
        continue;
      }
      this.lastWasInterrupt = false;
      const text = r.text.trim();
      if (!text) continue;
      if (!this.look.tty && text.startsWith('/')) this.screen.print(`› ${text}`);
      if (text.startsWith('/')) {
        if ((await Promise.race([runSlashCommand(this.commandContext(), text), exited])) === 'exit') return;
        continue;
      }
      if ((await Promise.race([this.prompt(r.text), exited])) === 'exit') return;
    }
  }

  private promptText(): string {
    const c = this.look.colors;
    if (!this.look.tty) return '';
    return this.isDriver() ? `${c.bold(c.green('›'))} ` : `${c.dim('watching')} ${c.bold(c.green('›'))} `;
  }

  /** Sends a prompt as the driver and waits for its turn to end (Ctrl-C meanwhile cancels it). */
  private async prompt(text: string): Promise<void> {
    const c = this.look.colors;
    if (!this.isDriver()) {
      this.screen.print(
        c.yellow(
          `you are watching: ${this.transcript.nameOf(this.transcript.driver)} is driving — /drive to take over, then send your prompt`,
        ),
      );
      return;
    }
    this.cancelSent = false;
    const sessionId = this.current().sessionId;
    const images = await imagesIn(text, this.io.cwd);
    for (const i of images) this.screen.print(c.dim(`attached image ${i.name}`));
    try {
      const result = await this.client.request(SessionPrompt, {
        sessionId,
        text,
        ...(images.length ? { images } : {}),
      });
      if (result.stopReason !== 'end_turn') this.failed = true;
      // The turn_end event normally arrives before the response; give it a moment if not.
      if (this.transcript.runningTurn === result.turnId)
        await new Promise<void>((resolve) => {
          const off = this.transcript.onTurnEnd(() => (off(), resolve()));
          setTimeout(() => (off(), resolve()), 500).unref();
        });
    } catch (e) {
      this.failed = true;
      this.transcript.note(c.red(`✗ ${describeError(e)}`));
    }
  }

  private async cancelTurn(): Promise<void> {
    if (!this.session) return;
    this.cancelSent = true;
    this.input.unqueue();
    this.transcript.note(this.look.colors.yellow('cancelling the turn… (Ctrl-C again to exit)'));
    try {
      const r = await this.client.request(SessionCancel, { sessionId: this.current().sessionId });
      if (!r.cancelled) this.transcript.note(this.look.colors.dim('no turn was running'));
    } catch (e) {
      this.transcript.note(this.look.colors.red(`✗ cancel failed: ${describeError(e)}`));
    }
  }

  /** Ctrl-C / Ctrl-D while no prompt line is open (a turn runs, or a question is asked). */
  private control(k: ControlKey): void {
    if (k === 'eof') return this.exitNow();
    if (this.transcript.runningTurn && !this.cancelSent) {
      this.lastWasInterrupt = true;
      void this.cancelTurn();
      return;
    }
    if (this.transcript.runningTurn || this.lastWasInterrupt) return this.exitNow();
    this.lastWasInterrupt = true;
    this.screen.print(this.look.colors.dim('(Ctrl-C again or Ctrl-D to exit)'));
  }

  private onEvent(e: SessionEvent): void {
    if (!this.session || e.sessionId !== this.session.sessionId) {
      if (this.attaching) this.attaching.push(e);
      return;
    }
    if (this.attaching) this.attaching.push(e);
    else {
      this.transcript.event(e);
      if (e.event.type === 'driver_changed') this.input.setPrompt(this.promptText());
      if (e.event.type === 'settings_changed')
        this.session = { ...this.session, model: e.event.model, mode: e.event.mode };
    }
  }

  /** Attaches to a session (leaving the current one), replays its history, then follows it live. */
  private async attach(sessionId: string, driver: boolean): Promise<void> {
    const previous = this.session;
    this.attaching = [];
    try {
      const r = await this.client.request(SessionAttach, { sessionId, fromSeq: 0, driver });
      if (previous && previous.sessionId !== sessionId)
        await this.client.request(SessionDetach, { sessionId: previous.sessionId }).catch(() => null);
      this.session = r.session;
      this.transcript = new Transcript(this.screen, () => this.client.clientId);
      for (const ev of r.history) this.transcript.event(ev, true);
      this.transcript.driver = r.session.driver;
      const queued = this.attaching.filter((ev) => ev.sessionId === sessionId);
      this.attaching = null;
      // The role change this attach itself caused is stated by the ◆ line below, not as a second line.
      for (const ev of queued) this.transcript.event(ev, ev.event.type === 'driver_changed');
      const c = this.look.colors;
      const s = r.session;
      if (previous && previous.sessionId !== sessionId)
        this.screen.print(
          c.dim(`left session ${previous.sessionId} (kept by the daemon — /attach ${previous.sessionId} to go back)`),
        );
      const role = this.isDriver()
        ? 'you are the driver'
        : `${this.transcript.nameOf(this.transcript.driver)} is driving — you are watching (/drive to take over)`;
      this.screen.print(
        c.magenta(`◆ session ${sessionId} · ${s.model} · mode ${s.mode} · ${s.attached.length} attached · ${role}`),
      );
    } finally {
      this.attaching = null;
    }
  }

  private async askPermission(
    q: ParamsOf<typeof PermissionRequest>,
    signal: AbortSignal,
  ): Promise<{ outcome: PermissionAnswer }> {
    const c = this.look.colors;
    const preview = await questionPreview(this.client, q, c);
    if (signal.aborted) return { outcome: 'deny' };
    this.transcript.note(permissionBlock(q, c, this.look.width(), preview));
    const choices = permissionChoices.filter((p) => q.options.includes(p.option));
    const keys = choices.map((p) => p.key);
    for (let attempt = 0; attempt < 5; attempt++) {
      const answer = await this.input.choose(`${c.yellow('?')} answer ${c.bold(`[${keys.join('/')}]`)}`, keys, signal);
      if (answer === null) return { outcome: 'deny' };
      const picked = parsePermissionAnswer(answer, q.options);
      if (picked) return { outcome: picked };
      this.screen.print(c.dim(`answer one of ${keys.join(', ')} (or the option name)`));
    }
    return { outcome: 'deny' };
  }

  private commandContext(): CommandContext {
    return {
      client: this.client,
      look: this.look,
      print: (lines) => this.transcript.note(lines),
      session: () => this.current(),
      isDriver: () => this.isDriver(),
      attach: (id, driver) => this.attach(id, driver),
      takeDriver: async () => {
        await this.client.request(SessionAttach, {
          sessionId: this.current().sessionId,
          driver: true,
          fromSeq: this.transcript.lastSeq + 1,
        });
      },
      cancelTurn: () => this.cancelTurn(),
      remember: (ids) => (this.remembered = ids),
    };
  }

  private async leave(): Promise<void> {
    const c = this.look.colors;
    const id = this.session?.sessionId;
    this.input.close();
    if (id && !this.client.closed) await this.client.request(SessionDetach, { sessionId: id }).catch(() => null);
    this.screen.close();
    if (id)
      this.io.stdout.write(
        `${c.dim(`session ${id} is kept by the daemon — resume: shadowbox chat --session ${id} · watch: shadowbox attach ${id}`)}\n`,
      );
    this.client.dispose();
  }
}

const IMAGE_TYPES: Record<string, ImageBlock['mimeType']> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
};

/**
 * Images a prompt names by path (dragging a file into a terminal pastes its path): each word, quoted or
 * not, that ends in .png/.jpg/.jpeg/.gif/.webp and names an existing file of at most 5 MiB, relative to
 * the terminal's folder or absolute. The path stays in the text, so the model knows what it looks at.
 */
export async function imagesIn(text: string, cwd: string): Promise<ImageBlock[]> {
  const out: ImageBlock[] = [];
  const words = text.match(/'[^']+'|"[^"]+"|\S+/g) ?? [];
  for (const w of words) {
    const p = w
      .replace(/^['"]|['"]$/g, '')
      .replace(/[?!,;:)]+$/, '')
      .replace(/\\ /g, ' ');
    const ext = /\.([a-z]+)$/i.exec(p)?.[1]?.toLowerCase();
    const type = ext ? ImageMimeType().safeParse(IMAGE_TYPES[ext]) : null;
    if (!type?.success) continue;
    const file = path.resolve(cwd, p);
    const st = await stat(file).catch(() => null);
    if (!st?.isFile() || Math.ceil(st.size / 3) * 4 > MAX_IMAGE_BASE64_CHARS) continue;
    out.push({ mimeType: type.data, data: (await readFile(file)).toString('base64'), name: path.basename(file) });
    if (out.length === 8) break;
  }
  return out;
}
