import { ErrorCodes } from '@shadowbox/protocol';
import { MessageType, type Connection } from 'vscode-languageserver';
import { ReviewTargetArgs, type ReviewActions } from './actions.js';
import { messageOf, refusal } from './errors.js';
import { clean, codeActionsOf, codeLensesOf, Commands, hoverOf, type FileView } from './present.js';

/** What the request handlers read: the view of a URI, the review commands, and the message channel. */
export interface ReviewRequestDeps {
  view(uri: string): FileView | null;
  actions(): ReviewActions | null;
  showMessage(type: MessageType, message: string): void;
}

/** Why: the editor asks (code actions, lenses, hover) and commands (accept, reject, undo) through these; each is a pure read of the review except the commands. */
export function registerReviewRequests(connection: Connection, d: ReviewRequestDeps): void {
  connection.onCodeAction((p) => {
    const v = d.view(p.textDocument.uri);
    if (!v) return [];
    const all = codeActionsOf(v, p.textDocument.uri, p.range, p.context.diagnostics);
    const only = p.context.only;
    return only?.length ? all.filter((a) => only.some((k) => a.kind === k || a.kind?.startsWith(`${k}.`))) : all;
  });
  connection.onCodeLens((p) => {
    const v = d.view(p.textDocument.uri);
    return v ? codeLensesOf(v, p.textDocument.uri) : [];
  });
  connection.onHover((p) => {
    const v = d.view(p.textDocument.uri);
    const line = p.position.line;
    if (!v) return null;
    if (v.whole && line === 0)
      return { contents: { kind: 'markdown', value: `**shadowbox**: ${clean(v.whole, 300)}` } };
    const h = v.hunks.find(
      (x) => x.place?.state !== 'applied' && x.range.start.line <= line && line <= x.range.end.line,
    );
    return h ? { contents: { kind: 'markdown', value: hoverOf(h, v.diff.stale) }, range: h.range } : null;
  });
  connection.onExecuteCommand(async (p) => {
    const actions = d.actions();
    if (!actions)
      throw refusal(
        ErrorCodes.SessionNotFound,
        'no_session_for_workspace',
        'the shadowbox language server has no workspace',
      );
    try {
      if (p.command === Commands.undo) return await actions.undo();
      if (p.command !== Commands.accept && p.command !== Commands.reject)
        throw refusal(
          ErrorCodes.InvalidParams,
          'unknown_command',
          `unknown command ${JSON.stringify(clean(p.command, 80))}`,
        );
      const args = ReviewTargetArgs.safeParse(p.arguments ?? []);
      if (!args.success)
        throw refusal(ErrorCodes.InvalidParams, 'invalid_command_arguments', `${p.command} takes [{uri, hunks?}]`, {
          issues: args.error.issues.length,
        });
      const [{ uri, hunks }] = args.data;
      return await (p.command === Commands.accept ? actions.accept(uri, hunks) : actions.reject(uri, hunks));
    } catch (e) {
      d.showMessage(MessageType.Warning, `shadowbox: ${clean(messageOf(e), 300)}`);
      throw e;
    }
  });
}
