import { ShadowboxError } from '../errors.js';
import {
  DaemonStatus,
  type ResultOf,
  ErrorCodes,
  DaemonStop,
  PermissionRespond,
  SessionAttach,
  SessionCancel,
  SessionConfigure,
  SessionCreate,
  SessionDetach,
  SessionList,
  SessionPrompt,
  Shutdown,
} from '@shadowbox/protocol';
import { realpath } from 'node:fs/promises';
import type { SessionManager } from '../sessions/index.js';
import type { ClientRegistry } from './client.js';
import type { HandlerTable } from './connection.js';

export interface LifecycleInfo {
  version: string;
  startedAt: Date;
  stateDir: string;
  socketPath: () => string | null;
  webUrl: () => string | null;
  environment: () => ResultOf<typeof DaemonStatus>['environment'];
  stop: () => void;
  /** The sandboxes this daemon can run (daemon/status). */
  sandboxes: () => Promise<ResultOf<typeof DaemonStatus>['sandboxes']>;
}

/** Registers the lifecycle, daemon and session methods. */
export function registerSessionHandlers(
  table: HandlerTable,
  sessions: SessionManager,
  clients: ClientRegistry,
  info: LifecycleInfo,
): void {
  table
    .on(Shutdown, (_p, { client }) => {
      for (const s of sessions.list())
        if (s.attached.includes(client.id)) sessions.detach(sessions.get(s.sessionId), client.id);
      return null;
    })
    .on(DaemonStatus, async () => ({
      pid: process.pid,
      version: info.version,
      startedAt: info.startedAt.toISOString(),
      uptimeMs: Date.now() - info.startedAt.getTime(),
      stateDir: info.stateDir,
      socketPath: info.socketPath(),
      webUrl: info.webUrl(),
      clients: clients.list().map((c) => ({ clientId: c.id, name: c.name, kind: c.kind, transport: c.transport })),
      sessions: sessions.list().length,
      rssBytes: process.memoryUsage().rss,
      environment: info.environment(),
      sandboxes: await info.sandboxes(),
    }))
    .on(DaemonStop, () => {
      // Answer first; stop once the response has had time to reach the client.
      setTimeout(info.stop, 20);
      return null;
    })
    .on(SessionCreate, async (p, { client }) => sessions.info(await sessions.create(p, client)))
    .on(SessionList, async (p) => ({
      sessions: sessions.list(p.workspace ? await realpath(p.workspace).catch(() => p.workspace) : undefined),
    }))
    .on(SessionAttach, (p, { client }) => sessions.attachById(p.sessionId, client, p.fromSeq, p.driver))
    .on(SessionDetach, (p, { client }) => {
      sessions.detach(sessions.get(p.sessionId), client.id);
      return null;
    })
    .on(SessionPrompt, (p, { client, token }) => sessions.prompt(p, client, token))
    .on(SessionCancel, (p, { client }) => {
      // As documented: any ATTACHED client may cancel (a person watching from another terminal), others may not.
      if (!sessions.get(p.sessionId).attached.has(client.id))
        throw new ShadowboxError(
          ErrorCodes.NotAttached,
          'not_attached',
          `attach to session ${p.sessionId} before cancelling its turn`,
          { sessionId: p.sessionId },
        );
      return { cancelled: sessions.cancel(p.sessionId) };
    })
    .on(SessionConfigure, (p, { client }) => sessions.configure(p.sessionId, client, p))
    .on(PermissionRespond, (p, { client }) => ({
      accepted: sessions.respondPermission(p.sessionId, p.requestId, p.outcome, client.id),
    }));
}
