/**
 * What other capabilities need from the audit log: append one entry. Injected, so shadow,
 * bundles, wasi and tools never import the audit implementation.
 */
export interface AuditSink {
  append(entry: AuditEntryInput): Promise<void>;
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
