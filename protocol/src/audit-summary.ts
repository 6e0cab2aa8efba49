// The gist of an audit entry for people: what happened and to what, per entry type. The daemon writes
// the entries (each type's data is documented in docs/security.md); every client shows them through
// this one function, so the terminal, `shadowbox audit show` and the web page read the same.
import type { AuditEntry } from './audit.js';

/** One audit entry in words: a short verb phrase and its details (paths, decision, outcome, …). */
export interface AuditSummary {
  /** e.g. "accepted 2 files", "tool write_file", "prompt". */
  what: string;
  /** Detail fragments, most important first: "a.py (written)", "allow (mode:auto)", "ok", "12 ms". */
  details: string[];
  /** ok, error, denied or null: how the entry went, for a colour or an icon. */
  outcome: 'ok' | 'error' | 'denied' | null;
}

const text = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
const names = (xs: string[], max = 6) => `${xs.slice(0, max).join(', ')}${xs.length > max ? `, … (${xs.length})` : ''}`;

/** Summarizes one entry of the audit log (unknown types fall back to their scalar fields). */
export function summarizeAuditEntry(e: AuditEntry): AuditSummary {
  const d = e.data;
  switch (e.type) {
    case 'tool.call': {
      const decision = obj(d.decision);
      const denied = text(decision.action) === 'deny';
      const paths = list(d.changed).length ? list(d.changed) : list(d.paths);
      return {
        what: `tool ${text(d.tool) ?? '?'}`,
        details: [
          text(d.summary),
          decision.action ? `${text(decision.action)} (${text(decision.rule) ?? ''})` : undefined,
          text(d.answer) && `answered ${text(d.answer)}`,
          d.outcome === 'ok' ? 'ok' : [text(d.outcome), text(d.reason)].filter(Boolean).join(': '),
          list(d.changed).length ? `changed ${names(paths.map(String))}` : undefined,
          typeof d.durationMs === 'number' ? `${Math.round(d.durationMs)} ms` : undefined,
        ].filter((x): x is string => Boolean(x)),
        outcome: denied ? 'denied' : d.outcome === 'ok' ? 'ok' : 'error',
      };
    }
    case 'tool.start': {
      // Written before a call runs (so a crash mid-call is still on record); tool.call follows with the outcome.
      const decision = obj(d.decision);
      return {
        what: `tool ${text(d.tool) ?? '?'} starts`,
        details: [
          text(d.summary),
          decision.action ? `${text(decision.action)} (${text(decision.rule) ?? ''})` : undefined,
          text(d.answer) && `answered ${text(d.answer)}`,
        ].filter((x): x is string => Boolean(x)),
        outcome: null,
      };
    }
    case 'shadow.accept': {
      const files = list(d.files).map((f) => `${text(obj(f).path) ?? '?'} (${text(obj(f).action) ?? '?'})`);
      const conflicts = list(d.conflicts).map(String);
      return {
        what: `accepted ${count(files.length, 'file')}`,
        details: [
          files.length ? names(files) : undefined,
          list(d.hunks).length ? `hunks ${names(list(d.hunks).map(String), 4)}` : undefined,
          conflicts.length ? `conflicts: ${names(conflicts)}` : undefined,
          d.force === true ? 'forced' : undefined,
          text(d.by) && `by ${text(d.by)}`,
          text(d.acceptId),
        ].filter((x): x is string => Boolean(x)),
        outcome: conflicts.length ? 'error' : 'ok',
      };
    }
    case 'shadow.reject': {
      const rejected = list(d.rejected).map(String);
      return {
        what: `rejected ${count(rejected.length, 'change')}`,
        details: [rejected.length ? names(rejected) : undefined, text(d.by) && `by ${text(d.by)}`].filter(
          (x): x is string => Boolean(x),
        ),
        outcome: 'ok',
      };
    }
    case 'shadow.undo': {
      const files = list(d.files).map((f) => text(obj(f).path) ?? '?');
      return {
        what: `undid accept ${text(d.acceptId) ?? ''}`.trim(),
        details: [
          files.length ? `restored ${names(files)}` : 'restored nothing',
          text(d.by) && `by ${text(d.by)}`,
        ].filter((x): x is string => Boolean(x)),
        outcome: 'ok',
      };
    }
    case 'shadow.accept.recovered':
      return {
        what: `accept ${text(d.acceptId) ?? ''} recovered after a crash`.trim(),
        details: [text(d.outcome), list(d.paths).length ? names(list(d.paths).map(String)) : undefined].filter(
          (x): x is string => Boolean(x),
        ),
        outcome: 'ok',
      };
    case 'prompt':
      return {
        what: 'prompt',
        details: [
          text(d.preview) && JSON.stringify(`${text(d.preview)}${Number(d.chars) > 80 ? '…' : ''}`),
          typeof d.chars === 'number' ? `${d.chars} chars` : undefined,
        ].filter((x): x is string => Boolean(x)),
        outcome: null,
      };
    case 'permission.answer':
      return {
        what: `permission for ${text(d.tool) ?? '?'}`,
        details: [text(d.outcome), text(d.rule) && `rule ${text(d.rule)}`, text(d.by) && `by ${text(d.by)}`].filter(
          (x): x is string => Boolean(x),
        ),
        outcome: String(d.outcome).startsWith('allow') ? 'ok' : 'denied',
      };
    case 'policy.grant':
    case 'policy.set':
      return {
        what: e.type === 'policy.grant' ? `granted ${text(d.scope) ?? ''}`.trim() : 'project rules changed',
        details: [
          text(d.tool),
          list(d.rules).length || list(d.added).length
            ? `${e.type === 'policy.set' ? 'added ' : ''}${names(
                [...list(d.rules), ...list(d.added)].map((r) => ruleText(obj(r))),
                3,
              )}`
            : undefined,
          list(d.removed).length ? `removed ${names(list(d.removed).map(String), 3)}` : undefined,
          text(d.by) && `by ${text(d.by)}`,
        ].filter((x): x is string => Boolean(x)),
        outcome: 'ok',
      };
    case 'net.fetch':
      return {
        what: `fetch ${text(d.method) ?? 'GET'} ${text(d.url) ?? ''}`.trim(),
        details: [
          d.refused ? `refused: ${text(d.refused)}` : text(d.status) && `HTTP ${text(d.status)}`,
          typeof d.bytes === 'number' ? `${d.bytes} bytes` : undefined,
        ].filter((x): x is string => Boolean(x)),
        outcome: d.refused ? 'denied' : 'ok',
      };
    case 'session.start':
      return {
        what: 'session started',
        details: [text(d.model), text(d.mode) && `mode ${text(d.mode)}`].filter((x): x is string => Boolean(x)),
        outcome: null,
      };
    case 'session.end':
      return { what: 'session ended', details: [text(d.reason)].filter((x): x is string => Boolean(x)), outcome: null };
    default:
      return {
        what: e.type,
        details: Object.entries(d)
          .filter(([, v]) => text(v) !== undefined)
          .slice(0, 6)
          .map(([k, v]) => `${k} ${text(v)}`),
        outcome: null,
      };
  }
}

function ruleText(r: Record<string, unknown>): string {
  return [text(r.action), ...['tool', 'kind', 'path', 'host'].filter((k) => r[k]).map((k) => `${k}=${text(r[k])}`)]
    .filter(Boolean)
    .join(' ');
}
