/**
 * Error codes of the shadowbox protocol.
 *
 * JSON-RPC 2.0 reserves -32768…-32000. shadowbox uses the standard codes there (plus LSP's
 * -32002 "server not initialized" and -32800 "request cancelled"), and its own codes in the
 * documented range -33999…-33000, grouped by capability in blocks of 100. Every error carries
 * `data: { reason: 'stable_snake_case', ... }`; clients branch on `code` and `data.reason`,
 * never on the message text.
 */
export const ErrorCodes = {
  // JSON-RPC 2.0 standard codes.
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  // Implementation-defined server errors inside the JSON-RPC reserved range (LSP compatible).
  ServerNotInitialized: -32002,
  RequestCancelled: -32800,

  /** Start of the shadowbox range (inclusive). */
  shadowboxRangeStart: -33999,
  /** End of the shadowbox range (inclusive). */
  shadowboxRangeEnd: -33000,

  // -330xx: transport and lifecycle.
  MessageTooLarge: -33001,
  AlreadyInitialized: -33002,
  ShuttingDown: -33003,
  Unauthorized: -33004,

  // -331xx: sessions.
  SessionNotFound: -33100,
  NotDriver: -33101,
  SessionBusy: -33102,
  NotAttached: -33103,
  /** A workspace target names several sessions (e.g. more than one has pending changes); `data.sessions` lists them. */
  SessionAmbiguous: -33104,

  // -332xx: workspace paths and file tools.
  PathOutsideWorkspace: -33200,
  PathProtected: -33201,
  FileNotFound: -33202,
  NotAFile: -33203,
  EditMismatch: -33204,
  ToolNotFound: -33205,
  ToolInputInvalid: -33206,
  ToolFailed: -33207,

  // -333xx: permission policy.
  PermissionDenied: -33300,
  PermissionTimeout: -33301,
  PermissionRequestNotFound: -33302,
  PolicyInvalid: -33303,

  // -334xx: shadow workspace and review.
  HunkNotFound: -33400,
  MergeConflict: -33401,
  NothingToUndo: -33402,
  UndoRefused: -33403,
  ReviewStale: -33404,
  ShadowFailed: -33405,

  // -335xx: audit log.
  AuditCorrupt: -33500,
  AuditFailed: -33501,

  // -336xx: model providers and configuration.
  ProviderAuth: -33600,
  ModelNotFound: -33601,
  ProviderUnavailable: -33602,
  ConfigMissing: -33603,
  ConfigInvalid: -33604,
  /** The provider rejected the request itself (400/422): a malformed request or a conversation too long for the model. */
  ProviderRequestInvalid: -33605,

  // -337xx: bundles and trust.
  BundleVerificationFailed: -33700,
  BundleNotFound: -33701,
  BundleInvalid: -33702,

  // -338xx: WASI runtime and netFetch.
  WasiRunnerUnavailable: -33800,
  WasiCapabilityUnsupported: -33801,
  WasiLimitExceeded: -33802,
  NetFetchRefused: -33803,
  WasiFailed: -33804,
  /** The host command sandbox (the `shell` tool) cannot run here; `data.missing` says what is missing and how to enable it. */
  SandboxUnavailable: -33805,
  /** The host command sandbox could not be set up for a run (bubblewrap or the overlay mount failed); `data.detail` has its message. */
  SandboxFailed: -33806,

  // -339xx: storage (the state dir and the person's files).
  /**
   * A write failed for lack of space (ENOSPC, EDQUOT), bytes or files (inodes); `data.path`, `data.freeBytes` and
   * `data.freeFiles` say where and how much is left.
   */
  DiskFull: -33900,
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Shape of `error.data` on every shadowbox error. */
export interface ErrorData {
  /** Stable snake_case reason, e.g. `path_escape`, `symlink_outside`, `rollback`. */
  reason: string;
  [key: string]: unknown;
}

/** True when `code` is in the shadowbox range rather than JSON-RPC's reserved one. */
export function isShadowboxErrorCode(code: number): boolean {
  return code >= ErrorCodes.shadowboxRangeStart && code <= ErrorCodes.shadowboxRangeEnd;
}
