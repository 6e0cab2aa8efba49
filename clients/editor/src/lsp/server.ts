import { fileURLToPath } from 'node:url';
import { WorkspaceChanged, type SessionEventBody, ErrorCodes } from '@shadowbox/protocol';
import {
  CodeLensRefreshRequest,
  MessageType,
  ShowMessageNotification,
  TextDocuments,
  TextDocumentSyncKind,
  type ClientCapabilities,
  type Connection,
  type Diagnostic,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { z } from 'zod';
import type { ShadowboxClient } from '../client.js';
import { createReviewActions, type ReviewActions } from './actions.js';
import { messageOf, refusal } from './errors.js';
import { createSessionFollower, type SessionFollower, type SessionInfoT } from './follow.js';
import { clean, Commands } from './present.js';
import { registerReviewRequests } from './requests.js';
import { createReviewState, type ReviewState } from './review-state.js';
import { createTurnFeedback } from './turn-feedback.js';
import { createWorkspaceUris } from './workspace-uris.js';

/** What the language server is given: its LSP connection and a way to reach the daemon. */
export interface LspServerOptions {
  connection: Connection;
  /** Connects (starting the daemon when none runs) and initializes a daemon client. */
  connectDaemon(): Promise<ShadowboxClient>;
  /** Reconnects after the daemon went away (without starting one); null when nothing answers yet. */
  reconnectDaemon?(): Promise<ShadowboxClient | null>;
  log(message: string): void;
  version: string;
  /** How often to look for a newer session and retry a lost daemon; 0 = never (tests call poll()). */
  pollMs?: number;
  /** Coalesces bursts of daemon events into one re-read of the diff. */
  refreshDelayMs?: number;
}

/** The running server, for tests and the command: wait for settled work, poll by hand. */
export interface LspServer {
  /** Resolves once the daemon is attached and the first diagnostics are out (after `initialized`). */
  ready: Promise<void>;
  /** Looks for a newer session / a restarted daemon now. */
  poll(): Promise<void>;
  /** Resolves when no refresh is queued or running. */
  idle(): Promise<void>;
  dispose(): void;
}

const InitOptions = z
  .object({ session: z.string().min(1).max(200).optional() })
  .catch({})
  .optional();

/**
 * Why: one LSP server per editor window shows the followed session's pending hunks where the person reads
 * code — diagnostics, hover, lenses, code actions — and keeps them current from the daemon's events
 * (review actions from any client, turns, the person's own saves), so no client has to poll shadow/diff.
 */
export function createLspServer(o: LspServerOptions): LspServer {
  const { connection } = o;
  const documents = new TextDocuments(TextDocument);
  let caps: ClientCapabilities = {};
  let workspace: string | null = null;
  let pinned: string | undefined;
  let daemon: ShadowboxClient | null = null;
  let follower: SessionFollower | null = null;
  let state: ReviewState | null = null;
  let actions: ReviewActions | null = null;
  let initialized = false;
  let disposed = false;
  let refreshing: Promise<void> = Promise.resolve();
  let queued = false;
  let connecting: Promise<ShadowboxClient> | null = null;
  let refreshTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((r) => (readyResolve = r));

  const publish = (uri: string, diagnostics: Diagnostic[]) =>
    void connection.sendDiagnostics({ uri, diagnostics }).catch(() => undefined);
  const showMessage = (type: MessageType, message: string) =>
    void connection.sendNotification(ShowMessageNotification.type, { type, message }).catch(() => undefined);
  const turns = createTurnFeedback(connection, showMessage);

  function refreshNow(): Promise<void> {
    clearTimeout(refreshTimer);
    refreshTimer = undefined;
    if (queued) return refreshing;
    queued = true;
    refreshing = refreshing
      .then(async () => {
        queued = false;
        if (!state) return;
        await state.reload(daemon?.closed ? null : daemon, follower?.sessionId ?? null);
        if (caps.workspace?.codeLens?.refreshSupport)
          await connection.sendRequest(CodeLensRefreshRequest.type).catch(() => undefined);
        turns.announce(state.files());
      })
      .catch((e: unknown) => o.log(`refresh failed: ${messageOf(e)}`));
    return refreshing;
  }
  const scheduleRefresh = () => {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => void refreshNow(), o.refreshDelayMs ?? 30);
  };

  function onEvent(e: SessionEventBody): void {
    switch (e.type) {
      case 'turn_start':
        turns.started();
        return;
      case 'tool_call':
        // A client's direct call (tools/call) is not the agent's work: no turn progress for it.
        if (e.origin !== 'client') turns.tool(e.summary);
        return;
      case 'tool_call_update':
        // The agent's calls and clients' direct ones alike: changed files refresh the review.
        if (e.changed?.length) scheduleRefresh();
        return;
      case 'checkpoint':
      case 'review':
      case 'daemon_restarted':
        scheduleRefresh();
        return;
      case 'turn_end':
        turns.ended(e.stopReason);
        void refreshNow();
        return;
      default:
        return;
    }
  }

  function onSession(info: SessionInfoT | null): void {
    turns.reset();
    if (info?.state === 'running') turns.started();
    scheduleRefresh();
  }

  async function attach(client: ShadowboxClient): Promise<void> {
    // A daemon reached after the editor went away (an auto-start outlasting `exit`) is let go at once.
    if (disposed) return client.dispose();
    daemon = client;
    client.connection.onNotification(WorkspaceChanged.method, (raw: unknown) => {
      if (WorkspaceChanged.params.safeParse(raw).success) scheduleRefresh();
    });
    client.onClose(() => {
      if (daemon !== client || disposed) return;
      o.log('the daemon connection closed');
      follower?.dispose();
      follower = null;
      turns.reset();
      state?.clear();
      showMessage(MessageType.Warning, 'shadowbox: the daemon connection closed; reconnecting when it is back');
      scheduleRetry();
    });
    follower = createSessionFollower({
      daemon: client,
      workspace: workspace!,
      ...(pinned ? { pinned } : {}),
      hasPending: () => (state?.files().length ?? 0) > 0,
      onSession,
      onEvent,
      log: (m) => o.log(m),
      pollMs: o.pollMs ?? 0,
    });
    await follower.start();
    await refreshNow();
  }

  function scheduleRetry(): void {
    if (!o.pollMs || retryTimer) return;
    retryTimer = setInterval(() => void retry(), o.pollMs);
    retryTimer.unref();
  }
  async function retry(): Promise<void> {
    if (!daemon?.closed || !o.reconnectDaemon) return;
    const c = await o.reconnectDaemon().catch(() => null);
    if (!c) return;
    clearInterval(retryTimer);
    retryTimer = undefined;
    await attach(c).catch((e: unknown) => o.log(`reattach failed: ${messageOf(e)}`));
  }

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    caps = params.capabilities;
    const opts = InitOptions.parse(params.initializationOptions);
    pinned = opts?.session;
    const root = params.workspaceFolders?.[0]?.uri ?? params.rootUri ?? null;
    try {
      workspace = root ? fileURLToPath(root) : (params.rootPath ?? null);
    } catch {
      workspace = null;
    }
    // The daemon is reached while the editor goes on; nothing is sent to the editor before `initialized`.
    if (workspace) {
      connecting = o.connectDaemon();
      connecting.catch(() => undefined);
    }
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        hoverProvider: true,
        codeActionProvider: { codeActionKinds: ['quickfix'] },
        codeLensProvider: { resolveProvider: false },
        executeCommandProvider: { commands: Object.values(Commands) },
      },
      serverInfo: { name: 'shadowbox', version: o.version },
    };
  });

  connection.onInitialized(() => {
    initialized = true;
    if (!workspace) {
      o.log('no workspace folder: nothing to show');
      readyResolve();
      return;
    }
    const uris = createWorkspaceUris(workspace);
    state = createReviewState({ uris, document: (u) => documents.get(u), publish, log: (m) => o.log(m) });
    actions = createReviewActions({
      state,
      target: () => {
        if (!daemon || daemon.closed)
          throw refusal(ErrorCodes.NotAttached, 'daemon_unavailable', 'not connected to the shadowbox daemon');
        if (!follower?.sessionId)
          throw refusal(
            ErrorCodes.SessionNotFound,
            'no_session_for_workspace',
            'no shadowbox session on this workspace',
          );
        return { daemon, sessionId: follower.sessionId };
      },
      document: (u) => documents.get(u),
      edits: {
        applyEdit: caps.workspace?.applyEdit === true,
        documentChanges: caps.workspace?.workspaceEdit?.documentChanges === true,
      },
      applyEdit: (p) => connection.workspace.applyEdit(p),
      warn: (m) => showMessage(MessageType.Warning, m),
      refresh: refreshNow,
    });
    void (connecting ?? o.connectDaemon())
      .then(attach)
      .catch((e: unknown) => {
        o.log(`could not reach the daemon: ${messageOf(e)}`);
        showMessage(MessageType.Warning, `shadowbox: could not reach the daemon (${clean(messageOf(e), 200)})`);
      })
      .finally(readyResolve);
  });

  documents.onDidChangeContent((e) => state?.republish(e.document.uri));
  // Opening a file re-reads the review too: changes that came without a session event (a direct
  // tools/call such as `shadowbox python`) show up at the latest when the person looks at a file.
  documents.onDidOpen(() => scheduleRefresh());
  documents.onDidClose((e) => {
    state?.inBuffer(e.document.uri).clear();
    if (state?.fileAt(e.document.uri)?.diff.stale) scheduleRefresh();
    else state?.republish(e.document.uri);
  });
  documents.onDidSave((e) => {
    void actions?.settle(e.document.uri).catch((err: unknown) => {
      o.log(`recording the save of ${e.document.uri} failed: ${messageOf(err)}`);
      showMessage(
        MessageType.Warning,
        `shadowbox: could not record the accepted change (${clean(messageOf(err), 200)})`,
      );
    });
  });

  registerReviewRequests(connection, { view: (uri) => state?.view(uri) ?? null, actions: () => actions, showMessage });
  documents.listen(connection);
  const server: LspServer = {
    ready,
    poll: async () => {
      if (!initialized) return;
      await retry();
      await follower?.poll();
    },
    idle: async () => {
      while (refreshTimer) await refreshNow();
      await refreshing;
    },
    dispose() {
      disposed = true;
      clearTimeout(refreshTimer);
      clearInterval(retryTimer);
      follower?.dispose();
      daemon?.dispose();
      // Also a connection still being made (no `initialized` came, or the daemon is still starting).
      void connecting?.then(
        (c) => c.dispose(),
        () => undefined,
      );
    },
  };
  // After `shutdown` the server lets the daemon go; only `exit` is left to answer.
  connection.onShutdown(() => server.dispose());
  return server;
}
