import { ErrorCodes } from '@shadowbox/protocol';
import { ResponseError } from 'vscode-languageserver';

/** Reasons the language server refuses a command with (error.data.reason), next to the daemon's own. */
export type LspRefusal =
  | 'invalid_command_arguments'
  | 'unknown_command'
  | 'no_session'
  | 'daemon_unavailable'
  | 'not_pending'
  | 'unknown_hunk'
  | 'hunk_does_not_apply'
  | 'unsaved_buffer'
  | 'edit_refused';

const CODES: Record<LspRefusal, number> = {
  invalid_command_arguments: ErrorCodes.InvalidParams,
  unknown_command: ErrorCodes.InvalidParams,
  no_session: ErrorCodes.SessionNotFound,
  daemon_unavailable: ErrorCodes.ShadowFailed,
  not_pending: ErrorCodes.HunkNotFound,
  unknown_hunk: ErrorCodes.HunkNotFound,
  hunk_does_not_apply: ErrorCodes.HunkNotFound,
  unsaved_buffer: ErrorCodes.ReviewStale,
  edit_refused: ErrorCodes.ShadowFailed,
};

/** A refused command as the editor receives it: the shadowbox code for the reason, `data.reason`, one sentence. */
export function refusal(
  reason: LspRefusal,
  message: string,
  data: Record<string, unknown> = {},
): ResponseError<unknown> {
  return new ResponseError(CODES[reason], message, { reason, ...data });
}

/** The sentence of a failure, whatever threw it (a daemon ResponseError keeps its message). */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
