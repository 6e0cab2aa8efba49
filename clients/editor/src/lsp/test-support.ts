// Test support for the language server (not built): a scripted daemon holding a review state, and an
// editor on the other end of an in-memory LSP connection that keeps buffers and applies edits like a real one.
import { PassThrough } from 'node:stream';
import { createHash } from 'node:crypto';
import { ResponseError } from 'vscode-jsonrpc';
import {
  createMessageConnection,
  StreamMessageReader as JsonRpcReader,
  StreamMessageWriter as JsonRpcWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { createConnection, type WatchDog } from 'vscode-languageserver';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  ErrorCodes,
  SessionAttach,
  SessionDetach,
  SessionEventNotification,
  SessionList,
  ShadowAccept,
  ShadowDiff,
  ShadowFile,
  ShadowReject,
  ShadowStatus,
  ShadowUndo,
  WorkspaceChanged,
  type SessionEvent,
} from '@shadowbox/protocol';
import type { Diagnostic, PublishDiagnosticsParams, WorkspaceEdit } from 'vscode-languageserver';
import { ShadowboxClient } from '../client.js';
import { applyEdits } from './hunks.js';
import type { FileDiffT } from './present.js';
import { createLspServer, type LspServer } from './server.js';
import type { SessionInfoT } from './follow.js';

/** A hunk as the daemon sends it, from its unified-diff lines. */
export function hunk(path: string, oldStart: number, lines: string[]): FileDiffT['hunks'][number] {
  const oldLines = lines.filter((l) => l[0] === ' ' || l[0] === '-').length;
  const newLines = lines.filter((l) => l[0] === ' ' || l[0] === '+').length;
  const newStart = oldStart;
  const id = `${path}#${createHash('sha256')
    .update(lines.filter((l) => l[0] !== ' ').join('\n'))
    .digest('hex')
    .slice(0, 10)}`;
  return {
    id,
    header: `@@ -${oldStart},${oldLines} +${newStart},${newLines} @@`,
    oldStart,
    oldLines,
    newStart,
    newLines,
    lines,
  };
}

/** A modified text file with these hunks. */
export function modified(path: string, hunks: FileDiffT['hunks'], stale = false): FileDiffT {
  return { path, change: 'modified', binary: false, stale, patch: '', hunks };
}

type Body = SessionEvent['event'];
interface FakeSession {
  info: SessionInfoT;
  files: FileDiffT[];
  /** The real (saved) file texts, for shadow/file. */
  real: Map<string, string>;
}

/** A scripted daemon on an in-memory vscode-jsonrpc pair; every request is recorded. */
export interface FakeDaemon {
  calls: Array<{ method: string; params: Record<string, unknown> }>;
  sessions: Map<string, FakeSession>;
  addSession(
    id: string,
    files?: FileDiffT[],
    opts?: { state?: SessionInfoT['state']; real?: Record<string, string> },
  ): FakeSession;
  /** Sends a session event to the attached clients. */
  emit(sessionId: string, body: Body): Promise<void>;
  workspaceChanged(paths: string[]): Promise<void>;
  /** A new client connection (the server's, or "another editor" accepting meanwhile). */
  connect(): ShadowboxClient;
  /** Closes every connection (the daemon went away). */
  close(): void;
  callsOf(method: string): Array<Record<string, unknown>>;
}

/** Starts a fake daemon; sessions are on workspace `/ws`. */
export function fakeDaemon(): FakeDaemon {
  const calls: FakeDaemon['calls'] = [];
  const sessions = new Map<string, FakeSession>();
  const servers: MessageConnection[] = [];
  const pipes: PassThrough[] = [];
  const attached = new Map<MessageConnection, Set<string>>();
  let seq = 0;
  let order = 0;
  const undo: Array<{ sessionId: string; files: FileDiffT[] }> = [];

  const emit = async (sessionId: string, body: Body) => {
    const e: SessionEvent = { sessionId, seq: seq++, time: '2026-01-01T00:00:00Z', event: body };
    const s = sessions.get(sessionId);
    if (s) s.info.events++;
    for (const [c, ids] of attached)
      if (ids.has(sessionId)) await c.sendNotification(SessionEventNotification.method, e);
  };
  const session = (p: { sessionId?: string }) => {
    const s = sessions.get(p.sessionId ?? '');
    if (!s) throw new ResponseError(ErrorCodes.SessionNotFound, 'no such session', { reason: 'session_not_found' });
    return s;
  };
  /** Removes the selected hunks (or files) from a session's review, as accept and reject both do. */
  const take = (s: FakeSession, p: { paths?: string[]; hunks?: string[] }) => {
    undo.push({ sessionId: s.info.sessionId, files: structuredClone(s.files) });
    const taken: string[] = [];
    s.files = s.files.flatMap((f) => {
      if (p.paths?.includes(f.path)) return (taken.push(f.path), []);
      const left = f.hunks.filter((h) => !p.hunks?.includes(h.id));
      taken.push(...f.hunks.filter((h) => p.hunks?.includes(h.id)).map((h) => h.id));
      return left.length === 0 && f.hunks.length > 0 ? [] : [{ ...f, hunks: left }];
    });
    return taken;
  };

  function serve(server: MessageConnection, clientId: string) {
    const record = (method: string) => (p: unknown) => {
      calls.push({ method, params: p as Record<string, unknown> });
      return p as Record<string, unknown>;
    };
    server.onRequest('initialize', () => ({
      protocolVersion: 1,
      clientId,
      serverInfo: { name: 'fake', version: '0' },
      capabilities: {},
    }));
    server.onNotification('initialized', () => undefined);
    server.onRequest(SessionList.method, (raw: unknown) => {
      const p = record(SessionList.method)(raw) as { workspace?: string };
      const list = [...sessions.values()].filter((s) => !p.workspace || p.workspace === s.info.workspace);
      return { sessions: list.sort((a, b) => b.info.createdAt.localeCompare(a.info.createdAt)).map((s) => s.info) };
    });
    server.onRequest(SessionAttach.method, (raw: unknown) => {
      const s = session(record(SessionAttach.method)(raw));
      attached.get(server)!.add(s.info.sessionId);
      return { session: s.info, history: [] };
    });
    server.onRequest(SessionDetach.method, (raw: unknown) => {
      attached.get(server)!.delete((record(SessionDetach.method)(raw) as { sessionId: string }).sessionId);
      return null;
    });
    server.onRequest(ShadowStatus.method, (raw: unknown) => {
      const s = session(record(ShadowStatus.method)(raw));
      return {
        sessionId: s.info.sessionId,
        workspace: s.info.workspace,
        files: s.files.map((f) => ({
          path: f.path,
          change: f.change,
          binary: f.binary,
          stale: f.stale,
          hunks: f.hunks.length,
        })),
        commits: [],
        undoable: 0,
      };
    });
    server.onRequest(ShadowDiff.method, (raw: unknown) => {
      const s = session(record(ShadowDiff.method)(raw));
      return { sessionId: s.info.sessionId, files: s.files };
    });
    server.onRequest(ShadowFile.method, (raw: unknown) => {
      const p = record(ShadowFile.method)(raw) as { sessionId?: string; path: string };
      const s = session(p);
      return { path: p.path, real: s.real.get(p.path) ?? null, shadow: null, binary: false };
    });
    server.onRequest(ShadowAccept.method, async (raw: unknown) => {
      const p = record(ShadowAccept.method)(raw) as { sessionId?: string; paths?: string[]; hunks?: string[] };
      const s = session(p);
      const taken = take(s, p);
      await emit(s.info.sessionId, { type: 'review', action: 'accept', paths: taken, clientId });
      return {
        acceptId: 'acc1',
        applied: taken.map((t) => ({ path: t.split('#')[0], action: 'written' })),
        conflicts: [],
      };
    });
    server.onRequest(ShadowReject.method, async (raw: unknown) => {
      const p = record(ShadowReject.method)(raw) as { sessionId?: string; paths?: string[]; hunks?: string[] };
      const s = session(p);
      const taken = take(s, p);
      await emit(s.info.sessionId, { type: 'review', action: 'reject', paths: taken, clientId });
      return { rejected: taken };
    });
    server.onRequest(ShadowUndo.method, async (raw: unknown) => {
      const s = session(record(ShadowUndo.method)(raw));
      const last = undo.pop();
      if (last) s.files = last.files;
      await emit(s.info.sessionId, { type: 'review', action: 'undo', paths: [], clientId });
      return { acceptId: 'acc1', restored: s.files.map((f) => f.path) };
    });
  }

  return {
    calls,
    sessions,
    addSession(id, files = [], opts = {}) {
      const s: FakeSession = {
        info: {
          sessionId: id,
          workspace: '/ws',
          model: 'openai/test',
          mode: 'review',
          title: id,
          createdAt: `2026-01-01T00:00:${String(order++).padStart(2, '0')}Z`,
          updatedAt: '2026-01-01T00:00:00Z',
          state: opts.state ?? 'idle',
          driver: null,
          attached: [],
          events: 0,
          prompts: 0,
        },
        files,
        real: new Map(Object.entries(opts.real ?? {})),
      };
      sessions.set(id, s);
      return s;
    },
    emit,
    async workspaceChanged(paths) {
      for (const c of servers)
        await c.sendNotification(WorkspaceChanged.method, { workspace: '/ws', paths, stale: [] });
    },
    connect() {
      const up = new PassThrough();
      const down = new PassThrough();
      const server = createMessageConnection(new JsonRpcReader(up), new JsonRpcWriter(down));
      servers.push(server);
      pipes.push(up, down);
      attached.set(server, new Set());
      serve(server, `c${servers.length}`);
      server.listen();
      const conn = createMessageConnection(new JsonRpcReader(down), new JsonRpcWriter(up));
      conn.listen();
      return new ShadowboxClient(conn);
    },
    close() {
      for (const s of servers) {
        attached.delete(s);
        s.dispose();
      }
      servers.length = 0;
      for (const p of pipes.splice(0)) p.end();
    },
    callsOf: (method) => calls.filter((c) => c.method === method).map((c) => c.params),
  };
}

/** The editor side: buffers it keeps, diagnostics, messages and progress it received. */
export interface FakeEditor {
  conn: ProtocolConnection;
  server: LspServer;
  diagnostics: Map<string, Diagnostic[]>;
  messages: Array<{ type: number; message: string }>;
  progress: unknown[];
  edits: WorkspaceEdit[];
  buffers: Map<string, TextDocument>;
  /** When set, the editor answers workspace/applyEdit with applied: false (a person declining it). */
  refuseEdits: boolean;
  initialize(opts?: { applyEdit?: boolean; session?: string; root?: string }): Promise<unknown>;
  open(uri: string, text: string): Promise<void>;
  type(uri: string, text: string): Promise<void>;
  save(uri: string): Promise<void>;
  close(uri: string): Promise<void>;
  exit(): void;
}

/** Starts the language server on an in-memory connection with an editor on the other side. */
export function fakeEditor(
  connectDaemon: () => Promise<ShadowboxClient>,
  opts: { reconnectDaemon?: () => Promise<ShadowboxClient | null> } = {},
): FakeEditor {
  const up = new PassThrough();
  const down = new PassThrough();
  const watchDog: WatchDog = { shutdownReceived: false, initialize: () => undefined, exit: () => undefined };
  const serverConn = createConnection(
    (logger) => createProtocolConnection(new StreamMessageReader(up), new StreamMessageWriter(down), logger),
    watchDog,
  );
  const server = createLspServer({
    connection: serverConn,
    connectDaemon: async () => {
      const c = await connectDaemon();
      await c.initialize({ name: 'shadowbox-lsp', kind: 'editor' });
      return c;
    },
    ...(opts.reconnectDaemon ? { reconnectDaemon: opts.reconnectDaemon } : {}),
    log: () => undefined,
    version: 'test',
    refreshDelayMs: 1,
  });
  serverConn.listen();
  const conn = createProtocolConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  const diagnostics = new Map<string, Diagnostic[]>();
  const messages: FakeEditor['messages'] = [];
  const progress: unknown[] = [];
  const edits: WorkspaceEdit[] = [];
  const buffers = new Map<string, TextDocument>();
  const change = async (uri: string, text: string) => {
    const old = buffers.get(uri)!;
    const doc = TextDocument.create(uri, 'plaintext', old.version + 1, text);
    buffers.set(uri, doc);
    await conn.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: doc.version },
      contentChanges: [{ text }],
    });
  };
  conn.onNotification(
    'textDocument/publishDiagnostics',
    (p: PublishDiagnosticsParams) => void diagnostics.set(p.uri, p.diagnostics),
  );
  conn.onNotification('window/showMessage', (p: { type: number; message: string }) => void messages.push(p));
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.onNotification('$/progress', (p: unknown) => void progress.push(p));
  conn.onRequest('workspace/applyEdit', async (p: { edit: WorkspaceEdit }) => {
    edits.push(p.edit);
    if (editor.refuseEdits) return { applied: false, failureReason: 'declined' };
    for (const [uri, es] of Object.entries(p.edit.changes ?? {})) {
      const doc = buffers.get(uri);
      if (!doc) return { applied: false, failureReason: 'not open' };
      await change(uri, applyEdits(doc.getText(), es));
    }
    return { applied: true };
  });
  conn.listen();
  const editor: FakeEditor = {
    refuseEdits: false,
    conn,
    server,
    diagnostics,
    messages,
    progress,
    edits,
    buffers,
    initialize: (o = {}) =>
      conn
        .sendRequest('initialize', {
          processId: null,
          rootUri: `file://${o.root ?? '/ws'}`,
          capabilities: { workspace: { applyEdit: o.applyEdit ?? true }, window: { workDoneProgress: true } },
          ...(o.session ? { initializationOptions: { session: o.session } } : {}),
        })
        .then(async (r) => {
          await conn.sendNotification('initialized', {});
          return r;
        }),
    async open(uri, text) {
      buffers.set(uri, TextDocument.create(uri, 'plaintext', 1, text));
      await conn.sendNotification('textDocument/didOpen', {
        textDocument: { uri, languageId: 'plaintext', version: 1, text },
      });
    },
    type: change,
    save: (uri) => conn.sendNotification('textDocument/didSave', { textDocument: { uri } }),
    async close(uri) {
      buffers.delete(uri);
      await conn.sendNotification('textDocument/didClose', { textDocument: { uri } });
    },
    exit() {
      server.dispose();
      conn.dispose();
      serverConn.dispose();
    },
  };
  return editor;
}

/** Polls a condition every 5 ms until it holds (generous overall limit; never a duration assertion). */
export async function until<T>(
  f: () => T,
  what = 'condition',
  ms = 10_000,
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const t = Date.now();
  for (;;) {
    const v = f();
    if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
    if (Date.now() - t > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
