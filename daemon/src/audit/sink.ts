/**
 * What other capabilities need from the audit log: append one entry. Injected, so shadow,
 * bundles, wasi and tools never import the audit implementation.
 */
export interface AuditSink {
  /** Resolves once the entry is written (its receipt: seq and hash), or rejects; sinks that keep no sequence resolve undefined. */
  append(entry: AuditEntryInput): Promise<AuditReceipt | undefined>;
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
