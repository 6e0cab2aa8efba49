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
  ShadowFile,
  WorkspaceChanged,
} from '@shadowbox/protocol';
import { SessionView, type SessionInfo } from './model/session-view.js';
import { openLink, type Link, type LinkState } from './rpc/connection.js';
import { ConnectionClosedError, RpcError, type RpcClient } from './rpc/rpc-client.js';
import { fragmentFor, TOKEN_KEY } from './token.js';
import { AuditPanel } from './ui/audit.js';
import { savedLayout } from './ui/diff-view.js';
import { ago, h, replaceChildren } from './ui/dom.js';
import { AttachmentsPanel } from './ui/attachments.js';
import { PlanPanel } from './ui/plan.js';
import { ReviewPanel } from './ui/review.js';
import { TranscriptRenderer } from './ui/transcript.js';

const WORKSPACE_KEY = 'shadowbox.workspace';
const MODEL_KEY = 'shadowbox.model';

/** Models offered when starting a session, per configured provider (any `provider/model` can be typed). */
const SUGGESTED: Record<string, string[]> = {
  openai: ['openai/gpt-4o-mini', 'openai/gpt-4.1', 'openai/gpt-4.1-mini', 'openai/o3-mini'],
  anthropic: ['anthropic/claude-sonnet-4-5', 'anthropic/claude-haiku-4-5', 'anthropic/claude-opus-4-1'],
};

/** What the narrow layouts show in the one column they have. */
type Pane = 'chat' | 'review' | 'audit';

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
  /** The pane a narrow window shows (at ≥ 760 px the chat and the side panel are both visible). */
  private pane: Pane = 'chat';
  private providers: string[] = [];
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
      fileText: async (path) => {
        const c = this.client;
        const sessionId = this.view?.info.sessionId;
        if (!c || !sessionId) return null;
        return (await c.request(ShadowFile, { sessionId, path })).shadow;
      },
      layout: () => savedLayout(),
    });
    const hooks = { client: () => this.client, describeError, sessionId: () => this.view?.info.sessionId ?? null };
    this.review = new ReviewPanel(this.els.review, {
      ...hooks,
      toast: (t, l) => this.toast(t, l),
      workspace: () => this.view?.info.workspace ?? null,
      loaded: (n) => {
        const tab = this.els.paneTabs.querySelector<HTMLElement>('[data-pane="review"]');
        if (tab) tab.textContent = n ? `Review (${n})` : 'Review';
      },
      open: (id) =>
        void this.attach(id, false).catch((e: unknown) => this.toast(`could not attach: ${describeError(e)}`, 'error')),
    });
    this.audit = new AuditPanel(this.els.audit, {
      ...hooks,
      target: () => (this.view ? { workspace: this.view.info.workspace, sessionId: this.view.info.sessionId } : null),
    });
    this.plan = new PlanPanel(this.els.plan);
    this.attachments = new AttachmentsPanel(this.els.attachments, (t, l) => this.toast(t, l));
    this.attachments.listen(this.els.prompt);
    if (opts.workspace) localStorage.setItem(WORKSPACE_KEY, opts.workspace);
    this.els.workspace.value = opts.workspace ?? localStorage.getItem(WORKSPACE_KEY) ?? '';
    this.els.model.value = localStorage.getItem(MODEL_KEY) ?? '';
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
      onReady: (_c, init) => {
        this.providers = init.capabilities.providers;
        this.fillModels();
        void this.onReady();
      },
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

  /** The model field's suggestions: the usual models of each configured provider. */
  private fillModels(): void {
    const names = this.providers.flatMap((p) => SUGGESTED[p] ?? [`${p}/`]);
    replaceChildren(this.els.models, ...names.map((m) => h('option', { value: m })));
    this.els.model.placeholder = this.providers.length ? 'model (optional)' : 'model: no provider configured';
    this.els.model.title = this.providers.length
      ? `provider/model, e.g. ${names[0] ?? ''}; empty: the daemon's default (SHADOWBOX_MODEL or config.json)`
      : 'the daemon has no model provider configured: see docs/providers.md';
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
    const model = this.els.model.value.trim();
    if (model && !/^[a-z0-9][a-z0-9_-]*\/.+/.test(model))
      return this.toast('a model is written provider/model, e.g. openai/gpt-4o-mini', 'error');
    try {
      const info = await c.request(SessionCreate, {
        workspace,
        mode: this.els.mode.value as 'review',
        ...(model ? { model } : {}),
      });
      localStorage.setItem(WORKSPACE_KEY, workspace);
      if (model) localStorage.setItem(MODEL_KEY, model);
      else localStorage.removeItem(MODEL_KEY);
      this.showPane('chat');
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
    // Narrow headers cut the text; the whole of it stays on hover.
    this.els.link.title = this.els.link.textContent;
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
                onclick: () => {
                  this.showPane('chat');
                  void this.attach(s.sessionId, false).catch((e: unknown) =>
                    this.toast(`could not attach: ${describeError(e)}`, 'error'),
                  );
                },
              },
              h('span', { className: 'title' }, s.title || '(no prompt yet)'),
              h(
                'span',
                { className: 'meta' },
                `${s.workspace.split('/').pop() ?? s.workspace} · ${s.state.replace('_', ' ')} · ${ago(s.updatedAt)}`,
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
          others.length ? `${others.length} other client${others.length === 1 ? '' : 's'} attached` : 'only you',
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
    // One pane at a time (narrow): a question must be seen from the Review or Audit tab too.
    const chatTab = this.els.paneTabs.querySelector<HTMLElement>('[data-pane="chat"]');
    if (chatTab) {
      chatTab.textContent = open ? 'Chat ?' : 'Chat';
      chatTab.classList.toggle('asking', open > 0);
      chatTab.title = open ? 'a permission question is waiting for your answer' : '';
    }
    this.els.hint.textContent = open
      ? `${open === 1 ? 'a permission question is' : `${open} permission questions are`} waiting for an answer above`
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
      ...['review' as const, ...PolicyMode().options.filter((m) => m !== 'review')].map((m) =>
        h('option', { value: m }, m),
      ),
    );
    const model = h('input', {
      type: 'text',
      list: 'sbx-models',
      placeholder: 'model (optional)',
      'aria-label': 'model',
      'data-testid': 'model',
      autocomplete: 'off',
      spellcheck: 'false',
    });
    const models = h('datalist', { id: 'sbx-models' });
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
        ' to open it) and use the link it prints. The token is kept across daemon restarts (in ws.token), so a link keeps working until that file is deleted.',
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
        model,
        models,
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
    // Narrow windows: the session list is a drawer, and one pane (chat, review or audit) fills the column.
    const drawer = h(
      'button',
      {
        className: 'drawer-toggle',
        'aria-label': 'sessions',
        'aria-expanded': 'false',
        'data-testid': 'drawer-toggle',
        onclick: () => this.toggleDrawer(),
      },
      '☰',
      h('span', { className: 'drawer-label' }, ' Sessions'),
    );
    const paneTabs = h(
      'nav',
      { className: 'pane-tabs', 'aria-label': 'panes' },
      ...(['chat', 'review', 'audit'] as const).map((p) =>
        h(
          'button',
          { className: 'tab', 'data-pane': p, 'data-testid': `pane-${p}`, onclick: () => this.showPane(p) },
          p === 'chat' ? 'Chat' : p === 'review' ? 'Review' : 'Audit',
        ),
      ),
    );
    replaceChildren(
      this.root,
      h(
        'header',
        { className: 'top' },
        drawer,
        h('span', { className: 'brand' }, 'shadowbox'),
        paneTabs,
        h('span', { className: 'spacer' }),
        link,
      ),
      authPanel,
      app,
      toasts,
    );
    app.dataset.pane = 'chat';
    return {
      workspace,
      model,
      models,
      drawer,
      paneTabs,
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

  /** Narrow layouts: which pane fills the column (wide ones show them all; the attribute is then unused). */
  private showPane(p: Pane): void {
    this.pane = p;
    this.els.app.dataset.pane = p;
    for (const b of this.els.paneTabs.querySelectorAll<HTMLElement>('button'))
      b.classList.toggle('active', b.dataset.pane === p);
    this.toggleDrawer(false);
    if (p !== 'chat') this.showTab(p);
  }

  private toggleDrawer(open = this.els.app.dataset.drawer !== 'open'): void {
    this.els.app.dataset.drawer = open ? 'open' : 'closed';
    this.els.drawer.setAttribute('aria-expanded', String(open));
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
