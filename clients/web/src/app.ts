import {
  parseSlashCommand,
  PolicyMode,
  PermissionRequest,
  SessionCommand,
  PermissionRespond,
  SessionAttach,
  SessionCancel,
  SessionCreate,
  SessionDetach,
  SessionEventNotification,
  SessionList,
  SessionPrompt,
  WorkspaceChanged,
} from '@shadowbox/protocol';
import { SessionView, type SessionInfo } from './model/session-view.js';
import { openLink, type Link, type LinkState } from './rpc/connection.js';
import { ConnectionClosedError, RpcError, type RpcClient } from './rpc/rpc-client.js';
import { fragmentFor, TOKEN_KEY } from './token.js';
import { AuditPanel } from './ui/audit.js';
import { ago, h, replaceChildren } from './ui/dom.js';
import { AttachmentsPanel } from './ui/attachments.js';
import { PlanPanel } from './ui/plan.js';
import { ReviewPanel } from './ui/review.js';
import { TranscriptRenderer } from './ui/transcript.js';

const WORKSPACE_KEY = 'shadowbox.workspace';

/** A person-readable line for an error: message plus the stable reason. */
export function describeError(e: unknown): string {
  if (e instanceof RpcError) return `${e.message}${e.reason ? ` (${e.reason})` : ''}`;
  if (e instanceof ConnectionClosedError) return 'the connection to the daemon closed';
  return (e as Error)?.message ?? String(e);
}

/**
 * The page controller: one link to the daemon, the session list, the attached session's view
 * (transcript, composer, permissions), and the review/audit side panel. All drawing is batched
 * into one animation frame.
 */
export class App {
  private link: Link | null = null;
  private clientId = '';
  private sessions: SessionInfo[] = [];
  private view: SessionView | null = null;
  private readonly permissionAnswers = new Map<string, (outcome: string) => void>();
  private state: LinkState = { kind: 'connecting', attempt: 0 };
  private renderQueued = false;
  private lastReviewRev = -1;
  private sideTab: 'review' | 'audit' = 'review';
  private promptBusy = false;
  private readonly els;
  private readonly transcript: TranscriptRenderer;
  private readonly review: ReviewPanel;
  private readonly audit: AuditPanel;
  private readonly plan: PlanPanel;
  /** Images pasted into the composer, sent with the next prompt. */
  private readonly attachments: AttachmentsPanel;

  constructor(
    private readonly root: HTMLElement,
    private readonly opts: { token: string | null; workspace: string | null; session: string | null },
  ) {
    this.els = this.layout();
    this.transcript = new TranscriptRenderer(this.els.transcript, {
      selfId: () => this.clientId,
      nameOf: (id) => this.nameOf(id),
      answer: (rid, o) => void this.answerPermission(rid, o),
    });
    const hooks = { client: () => this.client, describeError, sessionId: () => this.view?.info.sessionId ?? null };
    this.review = new ReviewPanel(this.els.review, { ...hooks, toast: (t, l) => this.toast(t, l) });
    this.audit = new AuditPanel(this.els.audit, {
      ...hooks,
      target: () => (this.view ? { workspace: this.view.info.workspace, sessionId: this.view.info.sessionId } : null),
    });
    this.plan = new PlanPanel(this.els.plan);
    this.attachments = new AttachmentsPanel(this.els.attachments, (t, l) => this.toast(t, l));
    this.attachments.listen(this.els.prompt);
    if (opts.workspace) localStorage.setItem(WORKSPACE_KEY, opts.workspace);
    this.els.workspace.value = opts.workspace ?? localStorage.getItem(WORKSPACE_KEY) ?? '';
    setInterval(() => void this.loadSessions(), 5000);
  }

  private get client(): RpcClient | null {
    return this.link?.client ?? null;
  }

  start(): void {
    if (!this.opts.token) {
      this.state = { kind: 'unauthorized' };
      this.render();
      return;
    }
    this.link = openLink({
      origin: location.origin,
      token: this.opts.token,
      onState: (s) => {
        this.state = s;
        if (s.kind === 'open') this.clientId = s.clientId;
        this.render();
      },
      setup: (c) => this.setupClient(c),
      onReady: () => void this.onReady(),
    });
  }

  private setupClient(c: RpcClient): void {
    c.onNotification(SessionEventNotification.method, (raw) => {
      const parsed = SessionEventNotification.params.safeParse(raw);
      if (!parsed.success || !this.view || parsed.data.sessionId !== this.view.info.sessionId) return;
      if (this.view.receive(parsed.data)) this.render();
    });
    c.onNotification(WorkspaceChanged.method, (raw) => {
      const parsed = WorkspaceChanged.params.safeParse(raw);
      if (parsed.success && this.view && parsed.data.workspace === this.view.info.workspace) {
        this.view.reviewRev++;
        this.render();
      }
    });
    c.onRequest(PermissionRequest.method, (raw, signal) => {
      const parsed = PermissionRequest.params.safeParse(raw);
      if (!parsed.success) return Promise.resolve({ outcome: 'deny' });
      const id = parsed.data.requestId;
      return new Promise((resolve, reject) => {
        this.permissionAnswers.set(id, (outcome) => resolve({ outcome }));
        signal.addEventListener('abort', () => {
          this.permissionAnswers.delete(id);
          reject(new Error('cancelled'));
        });
      });
    });
  }

  private async onReady(): Promise<void> {
    this.permissionAnswers.clear();
    await this.loadSessions();
    const resume = this.view?.info.sessionId ?? this.opts.session;
    if (resume)
      await this.attach(resume, false).catch((e: unknown) =>
        this.toast(`could not attach: ${describeError(e)}`, 'error'),
      );
  }

  private async loadSessions(): Promise<void> {
    const c = this.client;
    if (!c || document.hidden) return;
    try {
      this.sessions = (await c.request(SessionList, {})).sessions;
      this.render();
    } catch {
      // The link is down; the next ready will reload.
    }
  }

  /** Attaches to a session (replaying its history from the last seq this page has) and shows it. */
  async attach(sessionId: string, driver: boolean): Promise<void> {
    const c = this.client;
    if (!c) return;
    const old = this.view;
    if (old && old.info.sessionId !== sessionId) {
      void c.request(SessionDetach, { sessionId: old.info.sessionId }).catch(() => undefined);
      this.view = null;
    }
    const fresh = !this.view;
    if (fresh) {
      this.transcript.reset();
      this.plan.reset();
      this.review.clear();
      this.lastReviewRev = -1;
    }
    const placeholder = this.sessions.find((s) => s.sessionId === sessionId);
    const view = this.view ?? new SessionView(placeholder ? { ...placeholder } : ({ sessionId } as SessionInfo));
    this.view = view;
    view.expectHistory();
    const res = await c.request(SessionAttach, { sessionId, fromSeq: view.lastSeq + 1, driver });
    if (this.view !== view) return;
    view.applyHistory(res.session, res.history);
    history.replaceState(null, '', `${location.pathname}${location.search}${fragmentFor(sessionId)}`);
    this.render();
    if (this.sideTab === 'audit') void this.audit.refresh();
  }

  private async createSession(): Promise<void> {
    const c = this.client;
    const workspace = this.els.workspace.value.trim();
    if (!c || !workspace) return this.toast('enter the absolute path of a workspace directory', 'error');
    try {
      const info = await c.request(SessionCreate, { workspace, mode: this.els.mode.value as 'review' });
      localStorage.setItem(WORKSPACE_KEY, workspace);
      this.sessions = [info, ...this.sessions.filter((s) => s.sessionId !== info.sessionId)];
      await this.attach(info.sessionId, true);
    } catch (e) {
      this.toast(`could not create a session: ${describeError(e)}`, 'error');
    }
  }

  private async sendPrompt(): Promise<void> {
    const c = this.client;
    const view = this.view;
    const text = this.els.prompt.value;
    if (!c || !view || !text.trim()) return;
    this.els.prompt.value = '';
    this.promptBusy = true;
    this.render();
    const command = parseSlashCommand(text);
    const images = command ? [] : this.attachments.take();
    try {
      if (command) {
        // The slash commands every client offers, executed by the daemon; the answer goes in the transcript.
        const r = await c.request(SessionCommand, { sessionId: view.info.sessionId, ...command });
        view.note('info', r.text);
      } else {
        await c.request(SessionPrompt, {
          sessionId: view.info.sessionId,
          text,
          ...(images.length ? { images } : {}),
        });
      }
    } catch (e) {
      this.attachments.restore(images);
      if (!(e instanceof ConnectionClosedError)) {
        this.toast(`prompt failed: ${describeError(e)}`, 'error');
        if (!this.els.prompt.value) this.els.prompt.value = text;
      }
    } finally {
      this.promptBusy = false;
      this.render();
    }
  }

  private async cancel(): Promise<void> {
    const c = this.client;
    if (!c || !this.view) return;
    await c
      .request(SessionCancel, { sessionId: this.view.info.sessionId })
      .catch((e: unknown) => this.toast(`cancel failed: ${describeError(e)}`, 'error'));
  }

  private async answerPermission(requestId: string, outcome: string): Promise<void> {
    const direct = this.permissionAnswers.get(requestId);
    if (direct) {
      this.permissionAnswers.delete(requestId);
      direct(outcome);
      return;
    }
    const c = this.client;
    if (!c || !this.view) return;
    try {
      const r = await c.request(PermissionRespond, {
        sessionId: this.view.info.sessionId,
        requestId,
        outcome: outcome as 'deny',
      });
      if (!r.accepted) this.toast('that question was already answered', 'info');
    } catch (e) {
      this.toast(`could not answer: ${describeError(e)}`, 'error');
    }
  }

  private nameOf(clientId: string): string {
    const c = this.view?.clients.get(clientId);
    return c ? `${c.name} (${c.kind})` : clientId;
  }

  toast(text: string, level: 'info' | 'error' = 'info'): void {
    const el = h(
      'div',
      { className: `toast toast-${level}`, role: level === 'error' ? 'alert' : 'status', 'data-testid': 'toast' },
      text,
    );
    this.els.toasts.appendChild(el);
    // At most three at once, so they never bury the review pane.
    while (this.els.toasts.childElementCount > 3) this.els.toasts.firstElementChild?.remove();
    setTimeout(() => el.remove(), level === 'error' ? 8000 : 3000);
  }

  render(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.draw();
    });
  }

  private draw(): void {
    const s = this.state;
    this.els.link.dataset.state = s.kind;
    this.els.link.textContent =
      s.kind === 'open'
        ? `connected · daemon ${s.daemonVersion}`
        : s.kind === 'connecting'
          ? 'connecting…'
          : s.kind === 'waiting'
            ? `${s.why}; retrying in ${Math.ceil(s.retryInMs / 1000)} s`
            : 'not authorized';
    this.els.authPanel.hidden = s.kind !== 'unauthorized';
    this.els.app.hidden = s.kind === 'unauthorized';
    if (s.kind === 'unauthorized') return;
    this.drawSessions();
    this.drawSession();
  }

  private drawSessions(): void {
    const current = this.view?.info.sessionId;
    replaceChildren(
      this.els.sessionList,
      ...(this.sessions.length ? [] : [h('li', { className: 'empty' }, 'No sessions yet.')]),
      ...this.sessions
        .map((listed) => (listed.sessionId === current && this.view ? this.view.info : listed))
        .map((s) =>
          h(
            'li',
            {
              className: s.sessionId === current ? 'current' : '',
              'data-testid': 'session-item',
              'data-session': s.sessionId,
            },
            h(
              'button',
              {
                onclick: () =>
                  void this.attach(s.sessionId, false).catch((e: unknown) =>
                    this.toast(`could not attach: ${describeError(e)}`, 'error'),
                  ),
              },
              h('span', { className: 'title' }, s.title || '(no prompt yet)'),
              h(
                'span',
                { className: 'meta' },
                `${s.workspace.split('/').pop() ?? s.workspace} · ${s.state} · ${ago(s.updatedAt)}`,
              ),
            ),
          ),
        ),
    );
  }

  private drawSession(): void {
    const v = this.view;
    this.els.session.hidden = !v;
    this.els.welcome.hidden = !!v;
    if (!v) return;
    const info = v.info;
    const driving = info.driver === this.clientId && this.clientId !== '';
    const others = info.attached.filter((c) => c !== this.clientId);
    replaceChildren(
      this.els.sessionHead,
      h('h2', { 'data-testid': 'session-title' }, info.title || 'New session'),
      h('div', { className: 'meta' }, `${info.workspace} · ${info.model} · ${info.mode}`),
      v.instructions.length
        ? h(
            'div',
            { className: 'meta', 'data-testid': 'instructions' },
            `instructions: ${v.instructions.map((f) => `${f.scope === 'user' ? '~ ' : ''}${f.path.split('/').slice(-2).join('/')}${f.truncated ? ' (cut)' : ''}`).join(', ')}`,
          )
        : null,
      h(
        'div',
        { className: 'roles' },
        h(
          'span',
          { className: `badge ${driving ? 'driving' : 'watching'}`, 'data-testid': 'role' },
          driving
            ? 'you drive'
            : info.driver
              ? `watching — ${this.nameOf(info.driver)} drives`
              : 'watching — nobody drives',
        ),
        !driving
          ? h(
              'button',
              {
                'data-testid': 'take-driver',
                onclick: () =>
                  void this.attach(info.sessionId, true).catch((e: unknown) => this.toast(describeError(e), 'error')),
              },
              'Take over',
            )
          : null,
        h(
          'span',
          { className: 'badge', 'data-testid': 'others' },
          others.length ? `${others.length} other client(s) attached` : 'only you',
        ),
        h(
          'span',
          { className: `badge state-${info.state}`, 'data-testid': 'session-state' },
          info.state.replace('_', ' '),
        ),
      ),
    );
    this.transcript.update(v);
    this.plan.update(v.plan, v.planRev);
    const running = !!v.running || this.promptBusy;
    this.els.send.disabled = !driving || running || !this.client;
    this.els.cancel.hidden = !running;
    this.els.prompt.disabled = !driving;
    this.els.prompt.placeholder = driving
      ? 'Ask the agent… (Enter sends, Shift+Enter for a new line)'
      : 'Take over to prompt; you can still answer permissions and review.';
    const open = v.openPermissions().length;
    this.els.hint.textContent = open
      ? `${open} permission question(s) waiting for an answer above`
      : running
        ? 'the agent is working…'
        : '';
    if (v.reviewRev !== this.lastReviewRev) {
      this.lastReviewRev = v.reviewRev;
      void this.review.refresh();
    }
  }

  private layout() {
    const workspace = h('input', {
      type: 'text',
      placeholder: '/path/to/project',
      'aria-label': 'workspace',
      'data-testid': 'workspace',
    });
    const mode = h(
      'select',
      { 'aria-label': 'mode', 'data-testid': 'mode' },
      // review first: the default mode.
      ...['review' as const, ...PolicyMode.options.filter((m) => m !== 'review')].map((m) =>
        h('option', { value: m }, m),
      ),
    );
    const sessionList = h('ul', { className: 'sessions', 'data-testid': 'session-list' });
    const prompt = h('textarea', { rows: 3, 'data-testid': 'prompt', 'aria-label': 'prompt' });
    const plan = h('div', { className: 'plan', hidden: true, 'data-testid': 'plan', 'aria-live': 'polite' });
    const attachments = h('div', { className: 'attachments', 'data-testid': 'attachments' });
    const send = h(
      'button',
      { className: 'primary', 'data-testid': 'send', onclick: () => void this.sendPrompt() },
      'Send',
    );
    const cancel = h(
      'button',
      { className: 'danger', 'data-testid': 'cancel', hidden: true, onclick: () => void this.cancel() },
      'Cancel',
    );
    prompt.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        if (!send.disabled) void this.sendPrompt();
      }
    });
    const tokenInput = h('input', {
      type: 'password',
      placeholder: 'token',
      'aria-label': 'token',
      'data-testid': 'token-input',
    });
    const authPanel = h(
      'div',
      { className: 'auth', hidden: true, 'data-testid': 'auth-panel' },
      h('h2', {}, 'This page needs an access link'),
      h(
        'p',
        {},
        'In a terminal on this machine run ',
        h('code', {}, 'shadowbox web'),
        ' (add ',
        h('code', {}, '--open'),
        ' to open it) and use the link it prints. The daemon makes a new token each time it starts, so after a restart you need a fresh link.',
      ),
      h('p', {}, 'Or paste the token from ', h('code', {}, '$SHADOWBOX_STATE_DIR/ws.token'), ':'),
      h(
        'div',
        { className: 'row' },
        tokenInput,
        h('button', { className: 'primary', onclick: () => this.useToken(tokenInput.value.trim()) }, 'Connect'),
      ),
    );
    const link = h('span', { className: 'link', 'data-testid': 'link-state' });
    const transcript = h('div', { className: 'transcript', 'data-testid': 'transcript', 'aria-live': 'polite' });
    const sessionHead = h('div', { className: 'session-head' });
    const hint = h('div', { className: 'hint', 'data-testid': 'hint' });
    const review = h('div', { className: 'panel', 'data-testid': 'review' });
    const audit = h('div', { className: 'panel', hidden: true, 'data-testid': 'audit' });
    const tabReview = h('button', { className: 'tab active', onclick: () => this.showTab('review') }, 'Review');
    const tabAudit = h(
      'button',
      { className: 'tab', 'data-testid': 'tab-audit', onclick: () => this.showTab('audit') },
      'Audit',
    );
    const session = h(
      'section',
      { className: 'session', hidden: true },
      sessionHead,
      transcript,
      h(
        'div',
        { className: 'composer' },
        plan,
        hint,
        attachments,
        prompt,
        h('div', { className: 'row' }, send, cancel),
      ),
    );
    const welcome = h(
      'section',
      { className: 'welcome' },
      h('h2', {}, 'No session open'),
      h('p', {}, 'Pick a session on the left, or start one on a workspace directory.'),
    );
    const app = h(
      'div',
      { className: 'layout' },
      h(
        'aside',
        { className: 'side-left' },
        h('h3', {}, 'New session'),
        workspace,
        h(
          'div',
          { className: 'row' },
          mode,
          h(
            'button',
            { className: 'primary', 'data-testid': 'create', onclick: () => void this.createSession() },
            'Start',
          ),
        ),
        h('h3', {}, 'Sessions'),
        sessionList,
      ),
      h('main', {}, welcome, session),
      h('aside', { className: 'side-right' }, h('div', { className: 'tabs' }, tabReview, tabAudit), review, audit),
    );
    const toasts = h('div', { className: 'toasts' });
    replaceChildren(
      this.root,
      h('header', { className: 'top' }, h('span', { className: 'brand' }, 'shadowbox'), link),
      authPanel,
      app,
      toasts,
    );
    return {
      workspace,
      mode,
      sessionList,
      plan,
      attachments,
      prompt,
      send,
      cancel,
      authPanel,
      link,
      transcript,
      sessionHead,
      hint,
      review,
      audit,
      tabReview,
      tabAudit,
      session,
      welcome,
      app,
      toasts,
    };
  }

  private showTab(tab: 'review' | 'audit'): void {
    this.sideTab = tab;
    this.els.review.hidden = tab !== 'review';
    this.els.audit.hidden = tab !== 'audit';
    this.els.tabReview.classList.toggle('active', tab === 'review');
    this.els.tabAudit.classList.toggle('active', tab === 'audit');
    if (tab === 'audit') void this.audit.refresh();
    else void this.review.refresh();
  }

  private useToken(token: string): void {
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    if (this.link) this.link.retry(token);
    else {
      this.opts.token = token;
      this.start();
    }
  }
}
