/**
 * What other capabilities need from the audit log: append one entry (and, for the review calls, sign what
 * was appended). Injected, so shadow, bundles, wasi and tools never import the audit implementation.
 */
export interface AuditSink {
  /** Resolves once the entry is written (its receipt: seq and hash), or rejects; sinks that keep no sequence resolve undefined. */
  append(entry: AuditEntryInput): Promise<AuditReceipt | undefined>;
  /**
   * Signs the workspace's unsigned tail (the log synced, its signed head written); sinks that sign nothing
   * leave it out. Appends are not synced on their own: a caller whose answer promises the entry is on disk
   * (accept, reject, undo) waits for this.
   */
  seal?(workspace: string): Promise<void>;
}

/** Where an appended entry landed in its workspace's log. */
export interface AuditReceipt {
  seq: number;
  hash: string;
}

export interface AuditEntryInput {
  /** e.g. 'session.start', 'prompt', 'tool.call', 'permission.answer', 'shadow.accept', 'bundle.verify', 'net.fetch'. */
  type: string;
  /** Workspace root (real path) the entry belongs to; selects the per-workspace log. */
  workspace: string;
  sessionId?: string;
  /** Structured, JSON-serializable details. Store codes and digests, not secrets or whole file contents. */
  data: Record<string, unknown>;
}
