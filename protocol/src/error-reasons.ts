import type { ErrorCodes } from './errors.js';

/**
 * Every error code's stable `data.reason` values, each with what it means. Clients branch on `code` and
 * `data.reason` (never on message text); the daemon's error class only accepts a reason declared here for
 * its code, so this table is complete by construction. Generated into docs/protocol.md.
 */
export const ErrorReasons = {
  ParseError: {
    parse_error: 'The message body is not valid JSON; the connection survives.',
    malformed_header: 'A frame header could not be read; framing is lost and only this connection is closed.',
  },
  InvalidRequest: {
    invalid_request: 'The JSON value is not a JSON-RPC 2.0 message.',
  },
  MethodNotFound: {
    method_not_found: 'No such method (`data.method`).',
  },
  InvalidParams: {
    invalid_params: 'Params fail the method’s schema; `data.field` names the first bad field, `data.issues` all.',
    missing_target: 'Neither a sessionId nor a workspace was given where one is needed.',
    bundle_name_invalid: 'Not a bundle name.',
    bundle_version_invalid: 'Not a semver version or range.',
    mirror_invalid: 'A mirror must be an http(s) URL or a folder.',
    key_file_unreadable: 'The key file given to `bundles trust` cannot be read.',
    key_file_invalid: 'The key file is not a shadowbox Ed25519 key file.',
    invalid_limits: 'A WASI run limit is not a positive number.',
    invalid_argv: 'A WASI run needs at least the program name in argv.',
    invalid_mount: 'A WASI mount point is not allowed.',
    invalid_cwd: 'A WASI run’s working directory is not one of its mount points (or `/`).',
    invalid_command_arguments:
      'A language-server command (`shadowbox.accept`, `shadowbox.reject`) did not get `[{uri, hunks?}]`.',
    unknown_command: 'The language server has no such command (`workspace/executeCommand`).',
    images_not_supported:
      'The session’s model does not take images (config.json `models.<spec>.images: true` says it does); the prompt was not sent.',
    turn_not_found: '`session/rewind` names no turn still in effect (`data.turns` lists them).',
    nothing_to_rewind: 'There is no later turn to take back.',
    rewind_too_far:
      'A turn to take back made changes whose checkpoint left the rewind window (the last 50–100 checkpoints keep what a rewind restores).',
    nothing_to_compact: 'The conversation is too short to summarize.',
    bad_command_arguments: 'A slash command got arguments it does not take (`data.usage` shows its form).',
  },
  InternalError: {
    internal: 'An unexpected failure inside the daemon (logged with its stack on the daemon side).',
    daemon_running: 'A daemon already runs for this state dir (`data.pid`, `data.socket`).',
    lock_contended: 'The daemon lock could not be taken.',
    event_log_failed: 'A session’s event log could not be written (not for lack of space); the turn was stopped.',
  },
  ServerNotInitialized: {
    not_initialized: 'A request arrived before `initialize`.',
  },
  RequestCancelled: {
    cancelled: 'The request (or tool call, or model call) was cancelled.',
  },

  MessageTooLarge: {
    message_too_large: 'The declared message size exceeds the daemon’s cap; the body was skipped.',
  },
  AlreadyInitialized: {
    already_initialized: '`initialize` was already sent on this connection.',
  },
  ShuttingDown: {
    shutting_down: 'The daemon is stopping: the call was refused, or stopped at its next step.',
  },
  Unauthorized: {
    mcp_servers_not_allowed: 'Only socket and stdio clients may give a session MCP servers (they run host commands).',
    bad_path: 'The WebSocket upgrade asked for another path than `/rpc`.',
    bad_host: 'The Host header is not a loopback name with the daemon’s port (DNS-rebinding guard).',
    bad_origin: 'The Origin is not the daemon’s own web origin.',
    missing_origin: 'A browser-style upgrade without an Origin header.',
    missing_token: 'No token was presented.',
    bad_token: 'The token is not this daemon’s.',
  },

  SessionNotFound: {
    session_not_found: 'No session with that id.',
    no_session_for_workspace: 'The workspace has no shadowbox session.',
    invalid_session_id: 'Not a session id.',
  },
  NotDriver: {
    not_driver: 'Only the session’s driver may prompt or configure it.',
  },
  SessionBusy: {
    turn_running: 'The session is running a turn.',
  },
  NotAttached: {
    not_attached: 'Attach to the session first.',
    daemon_unavailable: 'The language server has no daemon connection right now (it reconnects by itself).',
  },
  SessionAmbiguous: {
    several_sessions_pending:
      'More than one session of the workspace has pending changes; name one (`data.sessions`: id, title, files).',
  },

  PathOutsideWorkspace: {
    path_escape: 'The path leaves the workspace (`..`).',
    absolute_path: 'An absolute path outside the workspace.',
    invalid_path: 'Not a usable path (empty, NUL, or not normalizable).',
    symlink_outside: 'A symlink on the path leads outside the workspace.',
    symlink_loop: 'Too many levels of symbolic links.',
    path_changed:
      'What was opened is not at the path that was checked (a folder on the way was swapped for a symlink): refused.',
    path_too_deep: 'The path has more components than allowed (`data.max`, 256).',
    path_too_long: 'The path is longer than allowed (`data.max` bytes, 4096).',
    name_too_long: 'A path component is longer than 255 bytes.',
  },
  PathProtected: {
    workspace_root: 'The workspace root itself cannot be written.',
    git_dir: 'Writes inside `.git/` are refused.',
    shadow_state: 'Writes to shadowbox’s state are refused.',
    protected_path: 'The path matches a protected glob of the policy (`data.glob`).',
    protected_paths_unavailable: 'The protected paths could not be read, so the write was refused.',
    read_only_mount: 'A folder mounted read-only into a sandbox (outside the workspace) is never written.',
    symlink_in_path:
      'Accept (undo, recovery) refuses to write through a symlink (`data.link`, `data.target`); a link the reviewed change removes is removed first instead.',
  },
  FileNotFound: {
    not_found: 'No such file or directory.',
    workspace_not_found: 'The workspace folder does not exist.',
  },
  NotAFile: {
    not_a_file: 'The path is not a regular file.',
    is_directory: 'The path is a directory.',
    not_a_directory: 'The path is not a directory.',
    not_directory: 'The path is not a directory.',
    parent_not_a_directory: 'A parent of the path is a file.',
    parent_not_directory: 'A parent of the path is a file.',
    exists_not_a_directory: 'The path exists and is not a directory.',
    target_is_directory: 'The destination is a directory.',
    workspace_not_directory: 'The workspace is not a directory.',
    too_large: 'The file is larger than the tool handles.',
    binary_file: 'The file is binary; the tool works on text.',
  },
  EditMismatch: {
    no_match: '`old_string` was not found.',
    not_unique: '`old_string` matches more than once.',
    count_mismatch: '`old_string` matches another number of times than `expected_replacements`.',
  },
  ToolNotFound: {
    unknown_tool: 'No tool by that name.',
  },
  ToolInputInvalid: {
    invalid_input: 'The input fails the tool’s schema (the model is told how to fix it).',
    invalid_json: 'The model’s tool-call arguments are not JSON.',
    argv_not_scalar: 'A bundle tool input field must be a string, number or boolean.',
    missing_field: 'A required bundle tool input field is missing.',
    missing_argument: 'A command-line option needs an argument.',
    unknown_option: 'An unknown command-line option.',
    ambiguous_program: 'Give only one of code, file or module.',
    no_change: '`old_string` and `new_string` are the same.',
    invalid_regex: 'The pattern is not a valid regular expression.',
    unsupported_regex: 'The pattern uses a feature RE2 does not have (lookaround, backreferences).',
    into_itself: 'A folder cannot be moved into itself.',
    timeout_above_limit:
      'A run asked for more time than the configured cap (`data.maxTimeoutMs`); it is refused, not cut.',
  },
  ToolFailed: {
    fetch_not_text: 'The fetched document is not text (HTML, markdown, JSON, XML or plain text); `data.contentType`.',
    fetch_redirected:
      'The page redirects to another host (`data.location`), which the policy has not allowed: fetch that URL instead.',
    tool_error: 'The tool ran and reported a failure (its output says why).',
    internal_error: 'The tool failed unexpectedly.',
    mcp_connect_failed: 'The MCP server did not start.',
    mcp_server_unavailable: 'The MCP server is down and could not be restarted.',
    mcp_timeout: 'The MCP server did not answer in time.',
    mcp_bad_result: 'The MCP server sent a malformed result.',
    mcp_server_exited: 'The MCP server process exited during the call; the next call restarts it.',
    spawner_exited:
      'The daemon’s spawner process (which starts programs such as rg for it) exited during the call; the next call starts it again.',
    program_not_ended:
      'A program the daemon killed (a time limit, a cancel) had not ended 5 s later, while the process that started it still answered: it may be waiting on a hung disk. The call ends without it.',
    mcp_connection_lost: 'The MCP server’s HTTP connection broke during the call; the next call reconnects.',
    mcp_error: 'The MCP server refused the call.',
    mcp_closed: 'The MCP server is closed (the daemon is stopping).',
    rename_into_self: 'A folder cannot be moved into itself.',
    unsupported_rename: 'Only files and directories can be moved.',
    grep_worker_failed: 'The search worker failed.',
    destination_exists: 'The destination exists (set `overwrite`).',
    invalid_link_target: 'A symbolic link needs a target of 1–4096 bytes without NUL.',
  },

  PermissionDenied: {
    policy_denied: 'A policy rule or the mode denied the call (`data.rule`).',
    user_denied: 'A person denied the call.',
    policy_failed: 'The policy could not decide, so the call was denied.',
    path_denied: 'A call the policy let run reached a path a deny rule keeps from it (`data.path`, `data.rule`).',
  },
  PermissionTimeout: {
    permission_timeout: 'Nobody answered the permission question in time; the call was denied.',
  },
  PermissionRequestNotFound: {},
  PolicyInvalid: {
    rules_file_unreadable: 'The project rules file cannot be read.',
    rules_file_corrupt: 'The project rules file is not valid (it is not overwritten).',
    bad_path_pattern: 'A rule path must be relative to the workspace, without `..`.',
    bad_host_pattern: 'A rule host must be a host name, an IP address or `*.domain` (no scheme, port or path).',
    unknown_rule_id: 'No project rule with that id.',
    bad_rule: 'A rule fails its schema, e.g. an unknown key (`data.field` names it).',
    rule_matches_everything: 'An allow rule names nothing (it would allow every call); write `tool: "*"` to mean that.',
    port_without_host: 'A rule `port` narrows a `host`; give the host too.',
  },

  HunkNotFound: {
    hunk_does_not_apply: 'The hunks of the file no longer apply.',
    bad_line_range:
      'A hunk line selection (`path#id:LINES`) is not a list of line numbers or ranges inside the hunk, or selects no change.',
    not_pending: 'Nothing is pending for that path.',
    unknown_hunk: 'No pending hunk with that id (unknown, or already accepted or rejected).',
    positional_hunk_id: 'Hunks are named by their stable id, not by position.',
  },
  MergeConflict: {},
  NothingToUndo: {
    nothing_to_undo: 'No accept to undo in this session.',
  },
  UndoRefused: {
    changed_since_accept: 'The files changed since the accept; undo would lose those changes.',
  },
  ReviewStale: {
    unsaved_buffer:
      'The file has unsaved edits in the editor, so the language server does not let the daemon write it: save or revert first.',
  },
  ShadowFailed: {
    write_failed:
      'Writing the accepted files failed; they were rolled back (or, when the roll-back could not finish, the next use of the session finishes it, and the message says so).',
    directory_not_empty:
      'A file (or link) replaces a real folder that still holds files the accept does not delete; nothing was changed.',
    git_failed: 'A git command on the shadow repository failed.',
    branch_exists: 'The export branch exists already.',
    invalid_branch: 'Not a valid branch name.',
    nothing_to_export: 'The session has no commits to export.',
    edit_refused:
      'The editor did not apply the language server’s edit (`workspace/applyEdit` answered `applied: false`).',
  },

  AuditCorrupt: {
    torn_line: 'The last line of the log is incomplete.',
    bad_signature: 'A checkpoint’s signature does not verify.',
    checkpoint_mismatch: 'A checkpoint does not match the entries it covers.',
    malformed_entry: 'A line is not an audit entry.',
    inserted_entry: 'An entry is out of sequence (inserted or reordered).',
    hash_mismatch: 'An entry’s hash does not match its content.',
    chain_broken: 'An entry does not link to the previous one.',
    head_corrupt: 'The signed head file is unreadable.',
    head_missing: 'The signed head file is missing.',
    truncated_tail: 'Entries the signed head or a session’s event log refers to are missing (the log was cut).',
    bad_mac: 'An entry no signature covers yet was not written with the daemon key (forged or replaced).',
    reference_mismatch: 'A session’s event log refers to a seq that records another call.',
    unsigned_tail: 'Entries after the newest signed checkpoint (a failure only with `strict`).',
  },
  AuditFailed: {
    key_corrupt: 'The daemon key file is unreadable (left as is).',
    key_write_failed: 'The daemon key could not be written.',
    audit_closed: 'The audit log is closed.',
    append_failed: 'An audit entry could not be written.',
    audit_unavailable: 'A tool call was not run because its audit entry could not be written (write-ahead).',
  },

  ProviderAuth: {
    auth_failed: 'The provider rejected the API key (401).',
    forbidden: 'The provider refused access to the model (403).',
  },
  ModelNotFound: {
    model_not_found: 'The provider does not know the model (404).',
  },
  ProviderUnavailable: {
    rate_limited: 'The provider is rate limiting (429; `data.retryAfterMs` when it said).',
    overloaded: 'The provider is overloaded (529/503).',
    server_error: 'The provider failed (5xx).',
    unexpected_status: 'The provider answered with an unexpected HTTP status.',
    network: 'The provider cannot be reached.',
    timeout: 'The provider did not answer in time.',
    stream_error: 'The provider reported an error inside the stream.',
    stream_interrupted: 'The stream broke off.',
    stream_incomplete: 'The stream ended without a stop reason.',
    first_byte_timeout:
      'The model did not start answering within modelFirstByteTimeoutMs (`data.timeoutMs`); retryable.',
    idle_timeout: 'The model stopped sending mid-answer for modelIdleTimeoutMs (`data.timeoutMs`); retryable.',
    malformed_stream: 'A streamed chunk was not valid JSON (a broken server or proxy); retryable.',
  },
  ConfigMissing: {
    no_trust_root: 'No bundle trust root is installed.',
    missing_api_key: 'The provider’s API key is not set.',
  },
  ConfigInvalid: {
    config_invalid: 'config.json fails its schema (`data.path` names the field).',
    config_not_json: 'config.json is not valid JSON.',
    invalid_provider_config: 'The `providers` section of the config is invalid.',
    invalid_model_spec: 'A model is written `provider/model`.',
    unknown_provider: 'No such model provider.',
    invalid_env: 'An environment setting must be a non-negative integer.',
    duplicate_tool: 'Two tools have the same name.',
    invalid_tool_schema: 'A tool’s input schema has no JSON Schema form.',
    wasmtime_missing: 'The config asks for the wasmtime runner but no wasmtime binary is found.',
    state_dir_unsafe: 'The state folder belongs to another user or others can write it (its mode is never changed).',
    socket_dir_unsafe: 'The socket’s folder belongs to another user or others can write it (e.g. /tmp).',
    socket_path_taken: 'Something that is not a stale socket is at the socket path; it is left alone.',
    socket_in_use: 'Something is listening on the socket path already.',
  },
  ProviderRequestInvalid: {
    bad_request: 'The provider rejected the request (400/413/422).',
    context_too_long: 'The conversation is too long for the model’s context window.',
    compaction_failed: 'Summarizing the older turns failed (the model answered with no summary).',
  },

  BundleVerificationFailed: {
    file_mismatch: 'A payload file does not match the signed manifest.',
    manifest_tampered: 'The manifest does not match its signature.',
    index_tampered: 'The channel index does not match its signature.',
    root_tampered: 'The trust root does not match its signatures.',
    unknown_key: 'Signed by a key the trust root does not know.',
    revoked_key: 'Signed by a revoked key.',
    threshold: 'Not enough valid signatures for the role’s threshold.',
    rollback: 'An older version than one already accepted.',
    expired: 'The signed metadata has expired.',
    mix_and_match: 'The archive’s manifest is not the one the index names.',
    not_in_index: 'The bundle version is not in the signed index.',
    invalid_path: 'A path in the bundle is not a normalized relative path.',
    archive_invalid: 'The archive is malformed.',
    too_large: 'A download exceeds its byte cap.',
    signature_missing: 'The archive has no signature.',
  },
  BundleNotFound: {
    no_index: 'The source has no index for the channel.',
    path_missing: 'No bundle at that path.',
    not_in_index: 'The bundle is not in the source’s index.',
    artifact_missing: 'The source lacks the bundle’s archive or signature.',
    not_installed: 'The bundle is not installed.',
    mirror_error: 'The mirror answered with an error.',
    entry_not_found: 'The bundle has no such command.',
  },
  BundleInvalid: {
    index_invalid: 'index.json fails its schema.',
    not_canonicalizable: 'A value has no canonical JSON form.',
    key_mismatch: 'A private key does not match its public half.',
    manifest_invalid: 'manifest.json fails its schema.',
    file_missing: 'A payload file is missing.',
    path_too_long: 'A path is too long for the archive format.',
    root_invalid: 'root.json fails its schema.',
    json_invalid: 'A metadata file is not JSON.',
    signature_invalid: 'manifest.sig.json is malformed.',
    manifest_missing: 'The archive has no manifest.json.',
    invalid_tool_schema: 'A bundle tool’s input schema is unusable.',
    invalid_net_rule: 'A netFetch rule of the manifest must be http(s).',
  },

  WasiRunnerUnavailable: {
    wasmtime_not_found: 'No wasmtime binary (PATH or SHADOWBOX_WASMTIME).',
  },
  WasiCapabilityUnsupported: {
    netfetch_requires_inprocess: 'netFetch needs the in-process runner.',
  },
  WasiLimitExceeded: {
    memory_limit: 'The module needs more memory than its limit.',
    workspace_too_large: 'The workspace is too large to copy for the wasmtime runner.',
    output_limit: 'The run’s output exceeded its limit.',
  },
  NetFetchRefused: {
    bad_request: 'The guest’s fetch request is malformed.',
    bad_url: 'The URL is invalid.',
    net_fetch_not_allowed: 'netFetch is not enabled for this run.',
    host_not_allowed: 'No rule allows the host.',
    policy_denied: 'The person’s policy denied the host.',
    address_not_allowed: 'The host resolves to an address that is not public.',
    scheme_not_allowed: 'Only http and https are fetched.',
    method_not_allowed: 'The HTTP method is not allowed.',
    userinfo_refused: 'URLs with `user@` are refused.',
    dns_failed: 'The host could not be resolved.',
    too_many_redirects: 'Too many redirects.',
    response_too_large: 'The response exceeds the cap.',
    connect_failed: 'The connection failed.',
    timeout: 'The request timed out.',
    cancelled: 'The run was cancelled.',
    net_fetch_failed: 'The fetch failed.',
  },
  SandboxUnavailable: {
    not_linux: 'The host command sandbox needs Linux (user namespaces, overlayfs, bubblewrap).',
    missing_programs: 'A program the sandbox needs is not installed (`data.missing`: which, and the package).',
    userns_disabled: 'Unprivileged user namespaces are disabled (a sysctl or an AppArmor restriction; `data.how`).',
    overlay_unavailable:
      'overlayfs cannot be mounted inside a user namespace here (kernel or file system of the state dir).',
    bwrap_failed: 'bubblewrap cannot create its namespaces here (`data.detail`).',
    network_unavailable: 'A networked run needs socat (the proxy bridge inside the sandbox); it is not installed.',
  },
  SandboxFailed: {
    sandbox_setup_failed:
      'The sandbox could not be set up for this run (`data.detail` has the message); the command did not run.',
  },
  WasiFailed: {
    invalid_module: 'Not a valid WebAssembly module.',
    module_hash_mismatch: 'The loaded module does not match its content hash.',
    trap: 'The module trapped.',
  },

  DiskFull: {
    disk_full:
      'No space left, bytes or files (`data.path`, `data.freeBytes`, `data.freeFiles`: null where the file system does not count files); nothing half-written was kept.',
  },
} as const satisfies { [K in ErrorCodeName]: Record<string, string> };

/** What each error code means, one line each (generated into docs/protocol.md). */
export const ErrorCodeDocs = {
  ParseError: 'The message is not JSON, or its frame header is unreadable.',
  InvalidRequest: 'The JSON is not a JSON-RPC request or notification.',
  MethodNotFound: 'The method does not exist.',
  InvalidParams: 'The params fail the method’s schema, or name something that cannot be used.',
  InternalError: 'An unexpected daemon failure.',
  ServerNotInitialized: 'A request before `initialize` (as in LSP).',
  RequestCancelled: 'The request was cancelled (`$/cancelRequest`, session/cancel, or the caller went away).',
  MessageTooLarge: 'The message exceeds the size cap.',
  AlreadyInitialized: 'A second `initialize` on one connection.',
  ShuttingDown: 'The daemon is stopping: the call was refused, or stopped at its next step.',
  Unauthorized: 'The client may not do this (WebSocket upgrade checks, host-command features from a browser).',
  SessionNotFound: 'No such session.',
  NotDriver: 'The client is attached but does not hold the driver role.',
  SessionBusy: 'The session is running a turn.',
  NotAttached: 'The client is not attached to the session.',
  SessionAmbiguous: 'A workspace-wide request cannot tell which session it means; it is refused rather than guessed.',
  PathOutsideWorkspace: 'A path resolves outside the workspace.',
  PathProtected: 'A path is protected from writes.',
  FileNotFound: 'No such file or directory.',
  NotAFile: 'The path is of the wrong kind (a directory where a file is needed, a binary file, …).',
  EditMismatch: 'An edit’s `old_string` does not match as asked.',
  ToolNotFound: 'No such tool.',
  ToolInputInvalid: 'A tool’s input is invalid.',
  ToolFailed: 'A tool failed while running.',
  PermissionDenied: 'The policy or a person denied the call.',
  PermissionTimeout: 'A permission question went unanswered.',
  PermissionRequestNotFound: 'Reserved, not sent by this version: an answer to a question that is not open.',
  PolicyInvalid: 'A policy rule or the rules file is invalid.',
  HunkNotFound: 'A review target (file or hunk) is not pending or no longer applies.',
  MergeConflict: 'Reserved, not sent by this version: an accept met the person’s own overlapping edits.',
  NothingToUndo: 'There is no accept to undo.',
  UndoRefused: 'Undo would overwrite later changes.',
  ReviewStale: 'The review no longer matches what the person has (sent by the language server, not the daemon).',
  ShadowFailed: 'The shadow workspace could not complete an operation.',
  AuditCorrupt: '`audit verify` found the log altered or damaged.',
  AuditFailed: 'The audit log could not be written.',
  ProviderAuth: 'The model provider rejected the credentials.',
  ModelNotFound: 'The provider does not know the model.',
  ProviderUnavailable: 'The provider cannot be reached or failed; retrying later may work.',
  ConfigMissing: 'A needed setting is missing.',
  ConfigInvalid: 'A setting is invalid.',
  ProviderRequestInvalid: 'The provider rejected the request itself (malformed, or the conversation is too long).',
  BundleVerificationFailed: 'A bundle failed signature or content verification.',
  BundleNotFound: 'The bundle, version or command is not available.',
  BundleInvalid: 'A bundle or its metadata is malformed.',
  WasiRunnerUnavailable: 'The requested WASI runner is not available.',
  WasiCapabilityUnsupported: 'The runner cannot provide a requested capability.',
  WasiLimitExceeded: 'A WASI run exceeded a limit.',
  NetFetchRefused: 'A sandboxed HTTP request was refused before any connection.',
  WasiFailed: 'A WASI module could not be run.',
  SandboxUnavailable: 'The host command sandbox (`shell`, `shadowbox exec`) cannot run on this machine.',
  SandboxFailed: 'The host command sandbox could not be set up for a run.',
  DiskFull: 'A write failed for lack of space.',
} as const satisfies { [K in ErrorCodeName]: string };

/** Names of the error codes (the range markers excluded). */
export type ErrorCodeName = Exclude<keyof typeof ErrorCodes, 'shadowboxRangeStart' | 'shadowboxRangeEnd'>;

/** The name of the code whose number is `C`. */
export type ErrorCodeNameOf<C extends number> = {
  [K in ErrorCodeName]: (typeof ErrorCodes)[K] extends C ? K : never;
}[ErrorCodeName];

/** The declared reasons of code `C`; with the whole ErrorCode union (the default), any code's reasons. */
export type ErrorReason<C extends number = number> =
  ErrorCodeNameOf<C> extends infer N
    ? N extends ErrorCodeName
      ? keyof (typeof ErrorReasons)[N] & string
      : never
    : never;
