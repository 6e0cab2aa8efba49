import { MessageType, type Connection, type WorkDoneProgressServerReporter } from 'vscode-languageserver';
import { clean, type FileDiffT } from './present.js';

/** Tells the editor about the followed session's turns: $/progress while one runs, a message when it ends. */
export interface TurnFeedback {
  started(): void;
  tool(summary: string): void;
  /** The turn ended; `announce` is called with the pending files once the review has been re-read. */
  ended(stopReason: string): void;
  /** After a re-read of the review: says what is pending if a turn just ended (and nothing when nothing is). */
  announce(files: FileDiffT[]): void;
  /** Ends a progress that is running (the session changed, the daemon went away). */
  reset(): void;
}

/**
 * Why: a person reviewing in the editor should see that the agent is still working (so they do not accept
 * half a change) and be told, once, when it is done and what waits for review — and a workspace without
 * pending changes must stay silent. Progress uses window/workDoneProgress/create, which the library
 * replaces with a no-op when the editor does not offer `window.workDoneProgress`.
 */
export function createTurnFeedback(
  connection: Connection,
  showMessage: (type: MessageType, message: string) => void,
): TurnFeedback {
  let progress: Promise<WorkDoneProgressServerReporter | null> | null = null;
  let ending: string | null = null;
  const end = () => {
    const p = progress;
    progress = null;
    void p?.then((r) => r?.done());
  };
  return {
    started() {
      if (progress) return;
      progress = connection.window
        .createWorkDoneProgress()
        .then((r) => (r.begin('shadowbox', undefined, 'the agent is working', false), r))
        .catch(() => null);
    },
    tool(summary) {
      void progress?.then((r) => r?.report(clean(summary, 120)));
    },
    ended(stopReason) {
      end();
      ending = stopReason === 'end_turn' ? "the agent's turn ended" : `the agent's turn ended (${stopReason})`;
    },
    announce(files) {
      const what = ending;
      ending = null;
      if (what === null || files.length === 0) return;
      const changes = files.reduce((n, f) => n + Math.max(1, f.hunks.length), 0);
      const names = files.slice(0, 3).map((f) => clean(f.path, 80));
      const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
      showMessage(
        MessageType.Info,
        `shadowbox: ${what}; ${plural(changes, 'change')} pending in ${plural(files.length, 'file')} (${names.join(', ')}${files.length > 3 ? ', …' : ''}) — accept or reject them with code actions`,
      );
    },
    reset: end,
  };
}
