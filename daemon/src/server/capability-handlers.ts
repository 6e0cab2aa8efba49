import { realpath } from 'node:fs/promises';
import {
  AuditQuery,
  AuditVerify,
  BundlesInstall,
  BundlesList,
  BundlesTrust,
  BundlesVerify,
  PolicyList,
  Progress,
  PolicySetRules,
  ShadowAccept,
  ShadowDiff,
  ShadowExport,
  ShadowFile,
  ShadowPending,
  ShadowReject,
  ShadowStatus,
  ShadowUndo,
  ToolsCall,
  ToolsList,
  type ParamsOf,
  type ResultOf,
} from '@shadowbox/protocol';
import type { SessionManager } from '../sessions/index.js';
import { pendingSessions, resolveTarget, type PendingPort, type ReviewTarget } from './review-target.js';
import type { ClientHandle } from './client.js';
import type { HandlerTable } from './connection.js';
import { registerCommandHandlers } from './command-handlers.js';

type R<D> = Promise<ResultOf<D>>;
/** What the server needs of the shadow workspace (adapted in wiring.ts). */
export interface ReviewPort {
  pending: PendingPort;
  status(t: ReviewTarget, includeIgnored?: boolean): R<typeof ShadowStatus>;
  diff(t: ReviewTarget, paths?: string[]): R<typeof ShadowDiff>;
  accept(
    t: ReviewTarget,
    sel: { paths: string[]; hunks: string[]; force: boolean },
    client: ClientHandle,
  ): R<typeof ShadowAccept>;
  reject(t: ReviewTarget, sel: { paths: string[]; hunks: string[] }, client: ClientHandle): R<typeof ShadowReject>;
  undo(t: ReviewTarget, client: ClientHandle): R<typeof ShadowUndo>;
  exportBranch(t: ReviewTarget, branch: string): R<typeof ShadowExport>;
  file(t: ReviewTarget, path: string): R<typeof ShadowFile>;
}

/** What the server needs of tools, policy, audit and bundles. */
export interface ToolsPort {
  list(sessionId?: string): R<typeof ToolsList>;
  /** `signal` aborts when the client cancels the request ($/cancelRequest) or disconnects. */
  call(p: ParamsOf<typeof ToolsCall>, client: ClientHandle, signal: AbortSignal): R<typeof ToolsCall>;
}
export interface PolicyPort {
  list(workspace: string): R<typeof PolicyList>;
  set(p: ParamsOf<typeof PolicySetRules>, client: ClientHandle): R<typeof PolicySetRules>;
}
export interface AuditPort {
  query(p: ParamsOf<typeof AuditQuery>): R<typeof AuditQuery>;
  verify(workspace: string, o: { strict?: boolean }): R<typeof AuditVerify>;
}
export interface BundlesPort {
  list(): R<typeof BundlesList>;
  verify(path: string): R<typeof BundlesVerify>;
  /** `report` gets a message and a percentage while it reads and verifies. */
  install(
    p: ParamsOf<typeof BundlesInstall>,
    report?: (message: string, percentage: number) => void,
  ): R<typeof BundlesInstall>;
  trust(keyFile: string, client: ClientHandle): R<typeof BundlesTrust>;
}

async function realOrSame(p: string): Promise<string> {
  return realpath(p).catch(() => p);
}

/** Registers tools/*, policy/*, shadow/*, audit/*, bundles/* on the ports that exist. */
export function registerCapabilityHandlers(
  table: HandlerTable,
  sessions: SessionManager,
  ports: { review?: ReviewPort; tools?: ToolsPort; policy?: PolicyPort; audit?: AuditPort; bundles?: BundlesPort },
): void {
  const { review, tools, policy, audit, bundles } = ports;
  if (tools) {
    table
      .on(ToolsList, (p) => tools.list(p.sessionId))
      .on(ToolsCall, async (p, { client, token }) => {
        const abort = new AbortController();
        const off = client.onClose(() => abort.abort());
        const sub = token.onCancellationRequested(() => abort.abort());
        try {
          return await tools.call(p, client, abort.signal);
        } finally {
          off();
          sub.dispose();
        }
      });
  }
  if (policy) {
    table
      .on(PolicyList, async (p) => policy.list(await realOrSame(p.workspace)))
      .on(PolicySetRules, async (p, { client }) =>
        policy.set({ ...p, workspace: await realOrSame(p.workspace) }, client),
      );
  }
  if (review) {
    const t = (p: { sessionId?: string; workspace?: string }) => resolveTarget(sessions, review.pending, p, 'changes');
    table
      .on(ShadowPending, (p) => pendingSessions(sessions, review.pending, p.workspace))
      .on(ShadowStatus, async (p) => review.status(await t(p), p.includeIgnored))
      .on(ShadowDiff, async (p) => review.diff(await t(p), p.paths))
      .on(ShadowAccept, async (p, { client }) =>
        review.accept(await t(p), { paths: p.paths, hunks: p.hunks, force: p.force }, client),
      )
      .on(ShadowReject, async (p, { client }) => review.reject(await t(p), { paths: p.paths, hunks: p.hunks }, client))
      .on(ShadowUndo, async (p, { client }) =>
        review.undo(await resolveTarget(sessions, review.pending, p, 'undo'), client),
      )
      .on(ShadowExport, async (p) => review.exportBranch(await t(p), p.branch))
      .on(ShadowFile, async (p) => review.file(await t(p), p.path));
    registerCommandHandlers(table, sessions, review);
  }
  if (audit) {
    table
      .on(AuditQuery, async (p) => audit.query({ ...p, workspace: await realOrSame(p.workspace) }))
      .on(AuditVerify, async (p) => audit.verify(await realOrSame(p.workspace), p.strict ? { strict: true } : {}));
  }
  if (bundles) {
    table
      .on(BundlesList, () => bundles.list())
      .on(BundlesVerify, (p) => bundles.verify(p.path))
      .on(BundlesInstall, async (p, { client }) => {
        const token = p.progressToken;
        const progress = (value: { kind: 'begin' | 'report' | 'end'; message: string; percentage?: number }) => {
          if (token !== undefined)
            client.connection.sendNotification(Progress.type, { token, value }).catch(() => undefined);
        };
        progress({
          kind: 'begin',
          message: `installing ${p.name}${p.version ? `@${p.version}` : ''}: download, verify, store`,
        });
        try {
          const r = await bundles.install(p, (message, percentage) =>
            progress({ kind: 'report', message, percentage }),
          );
          progress({ kind: 'end', message: `installed ${r.name}@${r.version}` });
          return r;
        } catch (e) {
          progress({ kind: 'end', message: `refused: ${(e as Error).message}` });
          throw e;
        }
      })
      .on(BundlesTrust, (p, { client }) => bundles.trust(p.keyFile, client));
  }
}
