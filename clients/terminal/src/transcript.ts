import type { PlanItem, SessionEvent } from '@shadowbox/protocol';
import {
  count,
  foldLines,
  formatDuration,
  kindLabel,
  planLines,
  summarizeInput,
  toolDoneLine,
  toolRunningLine,
  usageLine,
} from './format.js';
import { MarkdownLines } from './markdown.js';
import type { Screen } from './screen.js';

type Body = SessionEvent['event'];
type ToolCall = Extract<Body, { type: 'tool_call' }>;
interface RunningTool {
  tool: string;
  kind: ToolCall['kind'];
  summary: string;
  status: string;
  startedAt: number;
  /** The end of its live output (shell, python), shown under the spinner line while it runs. */
  tail: string;
  /** A client's direct call (tools/call), not the agent's: a turn ending does not end it. */
  direct?: boolean;
}

/** Lines of a running tool's live output the terminal shows (its tail). */
const TAIL_LINES = 5;

/** How many output lines a finished tool call shows before folding, by kind. */
const foldAt: Record<string, number> = { execute: 12, fetch: 6, search: 8, other: 6 };

/**
 * Turns session events into terminal output: assistant text streamed line by line through the
 * markdown renderer, tool calls as live spinner lines that become one result line (plus folded
 * output), permission outcomes, checkpoints, turn ends, other clients and the driver role.
 */
export class Transcript {
  /** The turn in progress (from turn_start to turn_end), whoever started it. */
  runningTurn: string | null = null;
  driver: string | null = null;
  lastSeq = -1;
  private readonly names = new Map<string, string>();
  private readonly tools = new Map<string, RunningTool>();
  private readonly md: MarkdownLines;
  private partial = '';
  private streamed = false;
  private midLine = false;
  private turnStartedAt = 0;
  private thinking = false;
  private usage = { input: 0, output: 0, cached: 0, cost: undefined as number | undefined };
  /** The agent's checklist (the latest `plan` event), shown live while the turn runs. */
  private plan: PlanItem[] | null = null;
  private readonly turnEndListeners = new Set<(e: Extract<Body, { type: 'turn_end' }>) => void>();

  constructor(
    private readonly screen: Screen,
    private readonly me: () => string,
  ) {
    this.md = new MarkdownLines(screen.look.colors, screen.look.width);
  }

  /** Calls back when any turn of the session ends (used to wait for a prompt's turn). */
  onTurnEnd(listener: (e: Extract<Body, { type: 'turn_end' }>) => void): () => void {
    this.turnEndListeners.add(listener);
    return () => this.turnEndListeners.delete(listener);
  }

  /** A client's display name ("you" for this terminal). */
  nameOf(clientId: string | null | undefined): string {
    if (!clientId) return 'nobody';
    if (clientId === this.me()) return 'you';
    return this.names.get(clientId) ?? clientId;
  }

  /** Renders one event; `replay` is true for history received on attach. Events at or below lastSeq are ignored. */
  event(ev: SessionEvent, replay = false): void {
    if (ev.seq <= this.lastSeq) return;
    this.lastSeq = ev.seq;
    const e = ev.event;
    const c = this.screen.look.colors;
    const at = Date.parse(ev.time) || Date.now();
    switch (e.type) {
      case 'session_created':
        return this.note(c.dim(`session ${ev.sessionId} on ${e.workspace} · ${e.model} · mode ${e.mode}`));
      case 'user_message': {
        // This terminal shows its own prompts as typed (a slash command's turn too).
        if (!replay && e.clientId === this.me() && (this.screen.look.tty || e.command)) return;
        const images = e.images?.length
          ? c.dim(`  [+${e.images.length} image(s): ${e.images.map((i) => i.name ?? i.mimeType).join(', ')}]`)
          : '';
        return this.note(
          `${c.bold(c.green('›'))} ${e.command ? `/${e.command}` : e.text}${images}${e.clientId === this.me() ? '' : c.dim(`  (from ${this.nameOf(e.clientId)})`)}`,
        );
      }
      case 'plan':
        this.plan = e.items;
        if (!this.screen.look.tty || replay) return this.note(planLines(e.items, c));
        this.screen.setLive('~plan', { render: () => planLines(this.plan ?? [], c).join('\n') });
        return;
      case 'instructions':
        return this.note(
          c.dim(
            e.files.length
              ? `instructions in effect: ${e.files.map((f) => `${f.path}${f.scope === 'user' ? ' (yours)' : ''}${f.truncated ? ' (cut)' : ''}`).join(', ')}`
              : 'no instruction files in effect',
          ),
        );
      case 'compaction':
        return this.note(
          c.dim(
            `↻ ${e.trigger === 'command' ? '/compact: ' : ''}summarized ${e.compacted} earlier message(s) (about ${e.tokensBefore} → ${e.tokensAfter} tokens); the full history stays in the log`,
          ),
        );
      case 'rewind':
        return this.note(
          c.yellow(
            `↶ rewound ${e.rewound.length} turn(s)${e.clientId ? ` by ${this.nameOf(e.clientId)}` : ''}: the conversation${e.files.length ? ` and ${e.files.join(', ')}` : ''} went back; your files did not change`,
          ),
        );
      case 'turn_start':
        this.runningTurn = e.turnId;
        this.turnStartedAt = at;
        this.usage = { input: 0, output: 0, cached: 0, cost: undefined };
        this.streamed = false;
        this.md.reset();
        this.showTurnSpinner();
        return;
      case 'reasoning_delta':
        if (!this.thinking) {
          this.thinking = true;
          this.showTurnSpinner();
        }
        return;
      case 'message_delta':
        this.streamed = true;
        this.thinking = false;
        return this.text(e.text);
      case 'assistant_message':
        if (!this.streamed && e.text) this.text(e.text);
        this.flushText();
        this.streamed = false;
        this.md.reset();
        return;
      case 'tool_call':
        return this.toolCall(e, at);
      case 'tool_output':
        return this.toolOutput(e);
      case 'tool_call_update':
        return this.toolUpdate(e);
      case 'permission_request':
        // Live questions are asked by the permission handler; history shows what was asked.
        if (replay)
          this.note(
            `${c.yellow('?')} permission asked for ${c.bold(e.tool)} ${e.summary} ${c.dim(`(rule ${e.rule})`)}`,
          );
        return;
      case 'permission_resolved': {
        const verb = {
          allow_once: 'allowed once',
          allow_session: 'allowed for this session',
          allow_project: 'always allowed for this project',
          deny: 'denied',
          cancelled: 'cancelled',
          timeout: 'timed out (denied)',
        }[e.outcome];
        const color = e.outcome.startsWith('allow') ? c.green : c.red;
        return this.note(`  ${color('→')} ${verb}${e.by ? c.dim(` by ${this.nameOf(e.by)}`) : ''}`);
      }
      case 'usage':
        this.usage.input += e.inputTokens;
        this.usage.output += e.outputTokens;
        this.usage.cached += e.cachedInputTokens;
        if (e.costUsd !== undefined) this.usage.cost = (this.usage.cost ?? 0) + e.costUsd;
        return;
      case 'model_retry':
        return this.note(
          c.yellow(
            `↻ the model call failed (${e.message}) at ${e.url}; retrying, attempt ${e.attempt} of ${e.maxAttempts}`,
          ),
        );
      case 'checkpoint':
        return this.note(
          `${c.cyan('●')} ${count(e.files.length, 'file')} changed in the shadow workspace: ${e.files.slice(0, 6).join(', ')}${e.files.length > 6 ? ', …' : ''} ${c.dim('— /review to see, /accept to apply')}`,
        );
      case 'turn_end':
        return this.turnEnd(e, at);
      case 'client_attached':
        this.names.set(e.clientId, e.name);
        if (e.clientId !== this.me() && !replay) this.note(c.dim(`○ ${e.name} (${e.kind}) attached`));
        return;
      case 'client_detached':
        if (e.clientId !== this.me() && !replay) this.note(c.dim(`○ ${this.nameOf(e.clientId)} detached`));
        return;
      case 'driver_changed':
        this.driver = e.driver;
        if (replay) return;
        return this.note(
          c.magenta(
            e.driver === this.me()
              ? '◆ you are the driver'
              : e.driver
                ? `◆ ${this.nameOf(e.driver)} is driving — you are watching (/drive to take over)`
                : '◆ nobody is driving (/drive to take over)',
          ),
        );
      case 'settings_changed':
        return this.note(c.dim(`model ${e.model} · mode ${e.mode}`));
      case 'review':
        return this.note(
          c.dim(
            `${e.action} ${e.paths.join(', ') || '(nothing)'}${e.clientId ? ` by ${this.nameOf(e.clientId)}` : ''}`,
          ),
        );
      case 'daemon_restarted':
        return this.note(
          c.yellow(`the daemon restarted${e.interruptedTurn ? `; turn ${e.interruptedTurn} was interrupted` : ''}`),
        );
      default:
        return;
    }
  }

  /** Prints lines to the transcript, finishing any half-streamed line first. */
  note(lines: string | string[]): void {
    this.flushText();
    this.screen.print(lines);
  }

  /** Ends the streamed line in progress (before other output). */
  flushText(): void {
    if (this.screen.look.tty) {
      if (this.partial || this.md.pending.length) {
        const line = this.partial;
        this.partial = '';
        this.screen.setLive('text', null);
        const out = [...(line ? this.md.push(line) : []), ...this.md.flush()];
        if (out.length) this.screen.print(out);
      }
    } else if (this.midLine) {
      this.screen.writeRaw('\n');
      this.midLine = false;
    }
  }

  private text(chunk: string): void {
    if (!this.screen.look.tty) {
      this.screen.writeRaw(chunk);
      if (chunk) this.midLine = !chunk.endsWith('\n');
      return;
    }
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    if (parts.length) {
      this.screen.setLive('text', null);
      const out = parts.flatMap((l) => this.md.push(l));
      if (out.length) this.screen.print(out);
    }
    // The line being written (and table rows waiting for the table's end) stay live, as written.
    const live = [...this.md.pending, ...(this.partial ? [this.md.inCode ? `  ${this.partial}` : this.partial] : [])];
    if (live.length) this.screen.setLive('text', { render: () => live.join('\n') });
    else this.screen.setLive('text', null);
  }

  private showTurnSpinner(): void {
    const c = this.screen.look.colors;
    this.screen.setLive('~turn', {
      spin: true,
      render: (f, now) =>
        c.dim(
          `${c.cyan(f)} ${this.thinking ? 'thinking' : 'working'} · ${formatDuration(Math.max(0, now - this.turnStartedAt))} · Ctrl-C cancels`,
        ),
    });
  }

  private toolCall(e: ToolCall, at: number): void {
    this.flushText();
    const c = this.screen.look.colors;
    // A client's direct call (`shadowbox exec`, `shadowbox python`) says who ran it: the agent did not ask for it.
    const by = e.origin === 'client' ? c.dim(` · run by ${this.nameOf(e.clientId)}`) : '';
    const t: RunningTool = {
      tool: e.tool,
      kind: e.kind,
      summary: (e.summary || summarizeInput(e.input)) + by,
      status: e.status,
      startedAt: at,
      tail: '',
      ...(e.origin === 'client' ? { direct: true } : {}),
    };
    this.tools.set(e.callId, t);
    if (!this.screen.look.tty) return this.screen.print(`▸ ${kindLabel(e.kind, c).trimEnd()} ${e.tool} ${t.summary}`);
    this.screen.setLive(`tool:${e.callId}`, {
      spin: true,
      render: (f, now) =>
        [
          `${c.cyan(f)} ${toolRunningLine(t, now, c)}`,
          ...tailLines(t.tail, this.screen.look.width()).map((l) => c.dim(`  │ ${l}`)),
        ].join('\n'),
    });
  }

  /** Live output of a running call: its last lines show under the spinner (a terminal only; a pipe gets the result). */
  private toolOutput(e: Extract<Body, { type: 'tool_output' }>): void {
    const t = this.tools.get(e.callId);
    if (!t || !this.screen.look.tty) return;
    t.tail = (t.tail + e.text).slice(-4096);
    this.screen.redraw();
  }

  private toolUpdate(e: Extract<Body, { type: 'tool_call_update' }>): void {
    const c = this.screen.look.colors;
    const t = this.tools.get(e.callId) ?? {
      tool: e.callId,
      kind: 'other' as const,
      summary: '',
      status: e.status,
      startedAt: Date.now(),
      tail: '',
    };
    t.status = e.status;
    if (e.status !== 'completed' && e.status !== 'failed') {
      if (!this.screen.look.tty && e.status === 'awaiting_permission')
        this.screen.print(c.dim('  waiting for permission'));
      return this.screen.redraw();
    }
    this.tools.delete(e.callId);
    this.flushText();
    this.screen.setLive(`tool:${e.callId}`, null);
    const lines = [toolDoneLine(t, { ...e, status: e.status }, c)];
    const body = e.status === 'failed' ? (e.content ?? e.output ?? '') : (e.output ?? e.content ?? '');
    lines.push(...foldLines(body, e.status === 'failed' ? 6 : (foldAt[t.kind] ?? 3), c));
    if (e.changed?.length) lines.push(c.dim(`  changed in the shadow workspace: ${e.changed.join(', ')}`));
    this.screen.print(lines);
  }

  private turnEnd(e: Extract<Body, { type: 'turn_end' }>, at: number): void {
    const c = this.screen.look.colors;
    this.flushText();
    this.screen.setLive('~turn', null);
    for (const [id, t] of this.tools) {
      if (t.direct) continue;
      this.screen.setLive(`tool:${id}`, null);
      this.tools.delete(id);
    }
    this.thinking = false;
    if (this.plan && this.screen.look.tty) {
      this.screen.setLive('~plan', null);
      this.screen.print(planLines(this.plan, c));
    }
    this.plan = null;
    const took = this.turnStartedAt ? formatDuration(Math.max(0, at - this.turnStartedAt)) : '';
    const tokens = this.usage.input || this.usage.output ? ` · ${usageLine(this.usage)}` : '';
    if (e.stopReason === 'end_turn') this.screen.print(c.dim(`— done · ${took}${tokens}`));
    else if (e.stopReason === 'cancelled') this.screen.print(c.yellow(`⊘ turn cancelled after ${took}`));
    else if (e.stopReason === 'error')
      this.screen.print(
        c.red(`✗ turn failed: ${e.error?.message ?? 'error'}${e.error ? c.dim(` (${e.error.reason})`) : ''}`),
      );
    else this.screen.print(c.yellow(`— turn stopped: ${e.stopReason}${e.error ? ` (${e.error.message})` : ''}`));
    this.runningTurn = null;
    this.turnStartedAt = 0;
    for (const l of this.turnEndListeners) l(e);
  }
}

/** The last TAIL_LINES lines of live output, control characters dropped, each cut to the terminal's width. */
export function tailLines(text: string, width: number): string[] {
  const clean = text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/\r(?!\n)/g, '\n')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
  const lines = clean.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const max = Math.max(20, width - 6);
  return lines.slice(-TAIL_LINES).map((l) => (l.length > max ? `${l.slice(0, max - 1)}…` : l));
}
