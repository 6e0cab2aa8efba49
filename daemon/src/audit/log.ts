import { createReadStream } from 'node:fs';
import type { AuditEntry, AuditVerify, ResultOf } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { type Logger, mapDiskFull, mkdirAll } from '../state/index.js';
import { auditFiles, parseEntry } from './files.js';
import { type DaemonKey, loadDaemonKey, loadOrCreateDaemonKey } from './keys.js';
import { DEFAULT_LIMITS, type DataLimits } from './redact.js';
import type { AuditSink } from './sink.js';
import { type AuditReference, verifyLog } from './verify.js';
import { type Durability, WorkspaceWriter } from './writer.js';

/** The audit log as the daemon uses it: the AuditSink others append to, plus reading and verifying. */
export interface AuditLog extends AuditSink {
  query(p: {
    workspace: string;
    sessionId?: string;
    tool?: string;
    type?: string;
    limit: number;
  }): Promise<{ entries: AuditEntry[] }>;
  /** Verifies the log and the sessions' references to it; `strict` also fails on an unsigned tail. */
  verify(workspace: string, o?: { strict?: boolean }): Promise<ResultOf<typeof AuditVerify>>;
  /** Signs what is not yet signed (turn end, accept, undo): afterwards the unsigned tail is empty. */
  seal(workspace: string): Promise<void>;
  close(): Promise<void>;
}

export interface AuditLogDeps {
  stateDir: string;
  logger: Logger;
  /** A signed checkpoint after this many entries (and at close, and after checkpointIdleMs without appends). Default 256. */
  checkpointEvery?: number;
  /** Checkpoint this long after the last append when fewer than checkpointEvery arrived; 0 = off. Default 2,000 ms. */
  checkpointIdleMs?: number;
  /** 'checkpoint' (default): fdatasync at each checkpoint and at close; 'every': fdatasync every written batch. */
  durability?: Durability;
  limits?: Partial<DataLimits>;
  now?: () => Date;
  /**
   * The tool calls the sessions' event logs say they recorded in a workspace's log (seq and callId). The
   * writer refuses to extend a log that lost one (a cut tail) and verify reports it: the two ledgers are
   * kept apart, so rolling the audit log back to an older signed checkpoint does not go unseen.
   */
  references?: (workspace: string) => Promise<AuditReference[]>;
}

/** Creates the per-workspace, hash-chained, checkpoint-signed audit log under the state dir. */
export function createAuditLog(deps: AuditLogDeps): AuditLog {
  const writers = new Map<string, WorkspaceWriter>();
  let closed = false;
  let keyPromise: Promise<DaemonKey> | null = null;
  const key = () =>
    (keyPromise ??= mapDiskFull(deps.stateDir, () => mkdirAll(deps.stateDir, 0o700)).then(() =>
      loadOrCreateDaemonKey(deps.stateDir, deps.logger),
    )).catch((e: unknown) => {
      keyPromise = null;
      throw e;
    });
  const opts = {
    checkpointEvery: deps.checkpointEvery ?? 256,
    checkpointIdleMs: deps.checkpointIdleMs ?? 2000,
    durability: deps.durability ?? 'checkpoint',
    limits: { ...DEFAULT_LIMITS, ...deps.limits },
    now: deps.now ?? (() => new Date()),
    ...(deps.references ? { references: deps.references } : {}),
  };
  const writer = (workspace: string) => {
    let w = writers.get(workspace);
    if (!w) {
      w = new WorkspaceWriter(deps.stateDir, workspace, key, opts, deps.logger);
      writers.set(workspace, w);
    }
    return w;
  };

  return {
    append: (entry) =>
      closed
        ? Promise.reject(new ShadowboxError(ErrorCodes.AuditFailed, 'audit_closed', 'the audit log is closed'))
        : writer(entry.workspace).append(entry),

    async query(p) {
      await writers.get(p.workspace)?.flushed();
      const { log } = auditFiles(deps.stateDir, p.workspace);
      const out: AuditEntry[] = [];
      const rl = process
        .getBuiltinModule('node:readline')
        .createInterface({ input: createReadStream(log, { encoding: 'utf8' }), crlfDelay: Infinity });
      try {
        for await (const line of rl) {
          if (line.startsWith('{"checkpoint"')) continue;
          const e = parseEntry(line);
          if (!e) continue;
          if (p.sessionId !== undefined && e.sessionId !== p.sessionId) continue;
          if (p.type !== undefined && e.type !== p.type) continue;
          if (p.tool !== undefined && e.data.tool !== p.tool) continue;
          out.push(e);
          if (out.length >= 2 * p.limit) out.splice(0, out.length - p.limit);
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      } finally {
        rl.close();
      }
      return { entries: out.slice(-p.limit) };
    },

    async verify(workspace, o = {}) {
      await writers.get(workspace)?.flushed();
      return verifyLog(
        auditFiles(deps.stateDir, workspace),
        workspace,
        await loadDaemonKey(deps.stateDir, deps.logger),
        {
          ...(o.strict ? { strict: true } : {}),
          references: deps.references ? await deps.references(workspace) : [],
        },
      );
    },

    async seal(workspace) {
      await writers.get(workspace)?.seal();
    },

    async close() {
      closed = true;
      const all = [...writers.values()];
      const results = await Promise.allSettled(all.map((w) => w.close()));
      for (const r of results)
        if (r.status === 'rejected')
          deps.logger.error(`audit: close failed: ${(r.reason as Error)?.message ?? String(r.reason)}`);
    },
  };
}
