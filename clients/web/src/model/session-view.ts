import type {
  InstructionFile,
  PlanItem,
  ResultOf,
  SessionAttach,
  SessionEvent,
  SessionEventBody,
  Usage,
} from '@shadowbox/protocol';

export type SessionInfo = ResultOf<typeof SessionAttach>['session'];
type Body<T extends SessionEventBody['type']> = Extract<SessionEventBody, { type: T }>;
type ToolUpdate = Body<'tool_call_update'>;

/** How much of a running call's live output the page keeps (its tail). */
export const LIVE_TAIL_CHARS = 16_384;

/** One block of the transcript; `rev` grows on every change so the renderer redraws only what changed. */
export type Item =
  | {
      kind: 'user';
      id: string;
      rev: number;
      turnId: string;
      text: string;
      clientId: string;
      images?: string[];
      rewound?: boolean;
    }
  | {
      kind: 'footer';
      id: string;
      rev: number;
      turnId: string;
      stopReason: string;
      durationMs: number | null;
      usage?: Usage;
      rewound?: boolean;
    }
  | {
      kind: 'assistant';
      id: string;
      rev: number;
      turnId: string;
      text: string;
      reasoning: string;
      done: boolean;
      rewound?: boolean;
    }
  | {
      kind: 'tool';
      id: string;
      rev: number;
      turnId: string;
      tool: string;
      toolKind: string;
      summary: string;
      input: unknown;
      status: 'pending' | ToolUpdate['status'];
      output?: string;
      content?: string;
      reason?: string;
      decision?: ToolUpdate['decision'];
      durationMs?: number;
      changed?: string[];
      rewound?: boolean;
      /** The tail of the call's live output while it runs (shell, python); the result replaces it. */
      live?: string;
      /** A client's direct call (tools/call): the client that ran it, not the agent. */
      by?: string;
    }
  | {
      kind: 'permission';
      id: string;
      rev: number;
      callId: string;
      tool: string;
      toolKind: string;
      summary: string;
      input: unknown;
      rule: string;
      options: Body<'permission_request'>['options'];
      outcome?: string;
      by?: string;
    }
  | { kind: 'notice'; id: string; rev: number; level: 'info' | 'warn' | 'error'; text: string };

/**
 * The state of one session as the page shows it, rebuilt from its event log: history from
 * session/attach first, then live session/event notifications. Events are applied once, in seq
 * order; live events that arrive before the attach answer wait in a buffer.
 */
export class SessionView {
  lastSeq = -1;
  readonly items: Item[] = [];
  readonly clients = new Map<string, { name: string; kind: string }>();
  running: string | null = null;
  /** Bumped when something outside the transcript changed (driver, clients, running, settings). */
  headRev = 0;
  /** Bumped when the shadow workspace may have changed (checkpoint, review, tool that changed files). */
  reviewRev = 0;
  /** The agent's plan (the latest `plan` event) and a counter the plan panel redraws on. */
  plan: PlanItem[] | null = null;
  planRev = 0;
  /** Instruction files in effect (the latest `instructions` event). */
  instructions: InstructionFile[] = [];
  /** When each running turn started (from its event time), for the footer's duration. */
  private readonly turnStarted = new Map<string, number>();
  private turnUsage: Usage | undefined;
  private readonly byId = new Map<string, Item>();
  private buffer: SessionEvent[] = [];
  private ready = false;
  private counter = 0;

  info: SessionInfo;

  constructor(info: SessionInfo) {
    this.info = { ...info, attached: [...(info.attached ?? [])] };
  }

  /** Applies the history from session/attach, then whatever live events waited for it. */
  applyHistory(info: SessionInfo, history: SessionEvent[]): void {
    const snapshot = { ...info, attached: [...info.attached] };
    for (const e of history) this.apply(e);
    // The attach answer is the truth about driver, attached clients and state at that moment.
    if (!snapshot.title) snapshot.title = this.info.title;
    this.info = snapshot;
    if (info.state === 'idle') this.running = null;
    this.ready = true;
    const waiting = this.buffer.sort((a, b) => a.seq - b.seq);
    this.buffer = [];
    for (const e of waiting) this.apply(e);
    this.headRev++;
  }

  /** Before a re-attach (reconnect, taking the driver role): live events wait for the new history. */
  expectHistory(): void {
    this.ready = false;
  }

  /** A live session/event. Returns true when it changed the view. */
  receive(e: SessionEvent): boolean {
    if (!this.ready) {
      this.buffer.push(e);
      return false;
    }
    return this.apply(e);
  }

  get(id: string): Item | undefined {
    return this.byId.get(id);
  }

  /** Permission questions still open. */
  openPermissions(): Extract<Item, { kind: 'permission' }>[] {
    return this.items.filter((i): i is Extract<Item, { kind: 'permission' }> => i.kind === 'permission' && !i.outcome);
  }

  private apply(e: SessionEvent): boolean {
    if (e.seq <= this.lastSeq) return false;
    this.lastSeq = e.seq;
    this.info.events = e.seq + 1;
    this.info.updatedAt = e.time;
    this.reduce(e.event, e.time);
    return true;
  }

  private add(item: Item): void {
    this.items.push(item);
    this.byId.set(item.id, item);
  }

  private touch(item: Item | undefined): void {
    if (item) item.rev++;
  }

  /** A line of this page's own (a slash command's answer): shown in the transcript, not in the session log. */
  note(level: 'info' | 'warn' | 'error', text: string): void {
    this.notice(level, text);
  }

  private notice(level: 'info' | 'warn' | 'error', text: string): void {
    this.add({ kind: 'notice', id: `n${this.counter++}`, rev: 0, level, text });
  }

  private openAssistant(turnId: string): Extract<Item, { kind: 'assistant' }> | undefined {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i];
      if (it.kind === 'assistant' && it.turnId === turnId && !it.done) return it;
      if (it.kind === 'tool' || it.kind === 'user') return undefined;
    }
    return undefined;
  }

  private reduce(b: SessionEventBody, time = ''): void {
    switch (b.type) {
      case 'session_created':
        this.notice('info', `session created on ${b.workspace} (${b.model}, ${b.mode})`);
        break;
      case 'user_message':
        if (!this.info.title) this.info.title = b.text.split('\n')[0].slice(0, 80);
        this.add({
          kind: 'user',
          id: `u${this.counter++}`,
          rev: 0,
          turnId: b.turnId,
          text: b.command ? `/${b.command}` : b.text,
          clientId: b.clientId,
          ...(b.images?.length ? { images: b.images.map((i) => i.name ?? i.mimeType) } : {}),
        });
        break;
      case 'plan':
        this.plan = b.items;
        this.planRev++;
        break;
      case 'instructions':
        this.instructions = b.files;
        this.headRev++;
        break;
      case 'compaction':
        this.notice(
          'info',
          `${b.trigger === 'command' ? '/compact: ' : ''}summarized ${b.compacted} earlier message(s) (about ${b.tokensBefore} → ${b.tokensAfter} tokens); the full history stays in the log`,
        );
        break;
      case 'rewind': {
        const gone = new Set(b.rewound);
        for (const it of this.items)
          if ('turnId' in it && gone.has(it.turnId)) {
            (it as { rewound?: boolean }).rewound = true;
            this.touch(it);
          }
        this.plan = null;
        this.planRev++;
        this.reviewRev++;
        this.notice(
          'warn',
          `rewound ${b.rewound.length} turn(s)${b.files.length ? `; shadow files put back: ${b.files.join(', ')}` : ''} — your files did not change`,
        );
        break;
      }
      case 'turn_start':
        this.turnStarted.set(b.turnId, Date.parse(time));
        this.turnUsage = undefined;
        this.running = b.turnId;
        this.info.state = 'running';
        this.headRev++;
        break;
      case 'message_delta':
      case 'reasoning_delta': {
        let a = this.openAssistant(b.turnId);
        if (!a) {
          a = {
            kind: 'assistant',
            id: `a${this.counter++}`,
            rev: 0,
            turnId: b.turnId,
            text: '',
            reasoning: '',
            done: false,
          };
          this.add(a);
        }
        if (b.type === 'message_delta') a.text += b.text;
        else a.reasoning += b.text;
        this.touch(a);
        break;
      }
      case 'assistant_message': {
        let a = this.openAssistant(b.turnId);
        if (!a && (b.text || b.reasoning)) {
          a = {
            kind: 'assistant',
            id: `a${this.counter++}`,
            rev: 0,
            turnId: b.turnId,
            text: '',
            reasoning: '',
            done: false,
          };
          this.add(a);
        }
        if (a) {
          a.text = b.text;
          if (b.reasoning) a.reasoning = b.reasoning;
          a.done = true;
          this.touch(a);
        }
        break;
      }
      case 'tool_call':
        this.add({
          kind: 'tool',
          id: b.callId,
          rev: 0,
          turnId: b.turnId,
          tool: b.tool,
          toolKind: b.kind,
          summary: b.summary,
          input: b.input,
          status: 'pending',
          ...(b.origin === 'client' ? { by: b.clientId ?? '' } : {}),
        });
        break;
      case 'tool_output': {
        const t = this.byId.get(b.callId);
        if (t?.kind !== 'tool' || t.status === 'completed' || t.status === 'failed') break;
        t.live = ((t.live ?? '') + b.text).slice(-LIVE_TAIL_CHARS);
        this.touch(t);
        break;
      }
      case 'tool_call_update': {
        const t = this.byId.get(b.callId);
        if (t?.kind !== 'tool') break;
        t.status = b.status;
        if (b.status === 'completed' || b.status === 'failed') delete t.live;
        for (const k of ['output', 'content', 'reason', 'decision', 'durationMs', 'changed'] as const)
          if (b[k] !== undefined) (t as Record<string, unknown>)[k] = b[k];
        if (b.changed?.length) this.reviewRev++;
        this.touch(t);
        break;
      }
      case 'permission_request': {
        // The question sits right under the tool card it is about.
        const item: Item = {
          kind: 'permission',
          id: b.requestId,
          rev: 0,
          callId: b.callId,
          tool: b.tool,
          toolKind: b.kind,
          summary: b.summary,
          input: b.input,
          rule: b.rule,
          options: b.options,
        };
        const at = this.items.findIndex((i) => i.kind === 'tool' && i.id === b.callId);
        if (at >= 0) {
          this.items.splice(at + 1, 0, item);
          this.byId.set(item.id, item);
        } else this.add(item);
        this.info.state = 'waiting_permission';
        this.headRev++;
        break;
      }
      case 'permission_resolved': {
        const p = this.byId.get(b.requestId);
        if (p?.kind === 'permission') {
          p.outcome = b.outcome;
          if (b.by) p.by = b.by;
          this.touch(p);
        }
        if (this.running && this.openPermissions().length === 0) this.info.state = 'running';
        this.headRev++;
        break;
      }
      case 'model_retry':
        this.notice(
          'warn',
          `the model call failed (${b.message}) at ${b.url}; retrying, attempt ${b.attempt} of ${b.maxAttempts}`,
        );
        break;
      case 'usage': {
        const u = this.turnUsage;
        this.turnUsage = {
          inputTokens: (u?.inputTokens ?? 0) + b.inputTokens,
          outputTokens: (u?.outputTokens ?? 0) + b.outputTokens,
          cachedInputTokens: (u?.cachedInputTokens ?? 0) + b.cachedInputTokens,
          ...(b.costUsd !== undefined || u?.costUsd !== undefined
            ? { costUsd: (u?.costUsd ?? 0) + (b.costUsd ?? 0) }
            : {}),
        };
        break;
      }
      case 'checkpoint':
        this.reviewRev++;
        break;
      case 'turn_end':
        for (const it of this.items)
          if (it.kind === 'assistant' && it.turnId === b.turnId && !it.done) {
            it.done = true;
            this.touch(it);
          }
        this.running = null;
        this.info.state = 'idle';
        this.headRev++;
        this.reviewRev++;
        {
          const started = this.turnStarted.get(b.turnId);
          const ended = Date.parse(time);
          const usage = b.usage ?? this.turnUsage;
          this.add({
            kind: 'footer',
            id: `f${this.counter++}`,
            rev: 0,
            turnId: b.turnId,
            stopReason: b.stopReason,
            durationMs: started !== undefined && !Number.isNaN(ended) ? Math.max(0, ended - started) : null,
            ...(usage ? { usage } : {}),
          });
          this.turnStarted.delete(b.turnId);
          this.turnUsage = undefined;
        }
        if (b.stopReason === 'cancelled') this.notice('warn', 'turn cancelled');
        else if (b.stopReason === 'error')
          this.notice(
            'error',
            `turn failed: ${b.error?.message ?? 'error'}${b.error?.reason ? ` (${b.error.reason})` : ''}`,
          );
        else if (b.stopReason !== 'end_turn') this.notice('warn', `turn stopped: ${b.stopReason}`);
        break;
      case 'client_attached':
        this.clients.set(b.clientId, { name: b.name, kind: b.kind });
        if (!this.info.attached.includes(b.clientId)) this.info.attached.push(b.clientId);
        this.headRev++;
        break;
      case 'client_detached':
        this.info.attached = this.info.attached.filter((c) => c !== b.clientId);
        this.headRev++;
        break;
      case 'driver_changed':
        this.info.driver = b.driver;
        this.headRev++;
        break;
      case 'settings_changed':
        this.info.model = b.model;
        this.info.mode = b.mode;
        this.notice('info', `settings: ${b.model}, ${b.mode}`);
        this.headRev++;
        break;
      case 'review':
        this.notice('info', `${b.action}: ${b.paths.join(', ') || 'all'}`);
        this.reviewRev++;
        break;
      case 'daemon_restarted':
        this.notice('warn', `the daemon restarted${b.interruptedTurn ? '; the running turn was interrupted' : ''}`);
        this.running = null;
        this.headRev++;
        break;
    }
  }
}
