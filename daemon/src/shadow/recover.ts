import type { AuditSink } from '../audit/index.js';
import type { Logger } from '../state/index.js';
import { removeTemps, rollBack } from './accept-restore.js';
import { restoreSlice } from './accept.js';
import type { Journal } from './journal.js';
import type { LayerStore } from './layer.js';
import type { RealWriter } from './real-writer.js';
import { finishUndo } from './undo.js';

/** One accept or undo recovery settled. */
export interface Recovered {
  acceptId: string;
  outcome: string;
  paths: string[];
  conflicts: string[];
}

/** What recovery needs of a session. */
export interface RecoverTarget {
  id: string;
  root: string;
  store: LayerStore;
  journal: Journal;
  writer: () => RealWriter;
}

/**
 * Why: an accept or undo a crash interrupted is settled before the session is used again, and says so
 * in the log and the audit trail (`shadow.accept.recovered`, outcome `rolled_back`, `completed` or
 * `undone`). A `pending` accept is rolled back — only paths that still hold exactly what it wrote; a
 * path the person changed since keeps their bytes and is reported in `conflicts` — an `applied` one is
 * completed in the layer, an `undoing` undo is finished the same careful way. Leftover temps go. A full
 * disk leaves the journal unfinished: the next open tries again.
 */
export async function recoverSession(
  s: RecoverTarget,
  deps: { audit: AuditSink; logger: Logger },
): Promise<Recovered[]> {
  const out: Recovered[] = [];
  for (const r of await s.journal.unfinished()) {
    let outcome: string;
    let paths: string[];
    let conflicts: string[] = [];
    if (r.state === 'pending') {
      const w = s.writer();
      try {
        ({ restored: paths, conflicts } = await rollBack(s.store, w, r, () => s.journal.write(r)));
      } finally {
        await w.close();
      }
      r.state = 'rolled_back';
      if (conflicts.length > 0) r.conflicts = conflicts;
      await s.journal.write(r);
      outcome = 'rolled_back';
    } else if (r.state === 'applied') {
      // Temps an accept staged were all renamed into place before `applied`; any other the record names
      // (a roll-back's, cut short) is not the person's: it goes.
      const w = s.writer();
      try {
        await removeTemps(w, r.temps);
      } finally {
        await w.close();
      }
      if (!s.store.m.accepts.includes(r.id) && r.layerAfter) {
        restoreSlice(s.store, r.layerAfter);
        s.store.m.accepts.push(r.id);
        await s.store.save();
      }
      paths = r.files.map((f) => f.path);
      r.state = 'done';
      await s.journal.write(r);
      outcome = 'completed';
    } else {
      const u = await finishUndo(s.store, s.journal, r, s.writer, deps.logger);
      paths = u.restored;
      conflicts = u.conflicts;
      outcome = 'undone';
    }
    deps.logger.warn(
      `shadow: ${r.state === 'undone' ? 'undo of' : 'accept'} ${r.id} of session ${s.id} was interrupted; ${outcome} (${paths.join(', ') || 'no files changed'})${conflicts.length > 0 ? `; kept your later changes to ${conflicts.join(', ')}` : ''}`,
    );
    await deps.audit.append({
      type: 'shadow.accept.recovered',
      workspace: s.root,
      sessionId: s.id,
      data: { acceptId: r.id, outcome, paths, ...(conflicts.length > 0 ? { conflicts } : {}) },
    });
    out.push({ acceptId: r.id, outcome, paths, conflicts });
  }
  return out;
}
