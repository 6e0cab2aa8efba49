import { createReadStream } from 'node:fs';
import path from 'node:path';

/** A tool call a session's event log says was recorded at `seq` of its workspace's audit log. */
export interface AuditSeqReference {
  sessionId: string;
  callId: string;
  seq: number;
}

/**
 * Why: the audit log's own signatures cannot tell a log rolled back to an older signed checkpoint from
 * one that never grew; each session's event log, kept apart, remembers the audit seq of every tool call
 * (`tool_call_update.auditSeq`), and the audit log checks itself against that. Streams each log and
 * parses only the lines that carry a seq; a session without a log has none.
 */
export async function readAuditReferences(
  stateDir: string,
  sessionIds: readonly string[],
): Promise<AuditSeqReference[]> {
  const out: AuditSeqReference[] = [];
  for (const sessionId of sessionIds) {
    const file = path.join(stateDir, 'sessions', sessionId, 'events.jsonl');
    const input = createReadStream(file, { encoding: 'utf8' });
    const rl = process.getBuiltinModule('node:readline').createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of rl) {
        if (!line.includes('"auditSeq"')) continue;
        let raw: unknown;
        try {
          raw = JSON.parse(line);
        } catch {
          continue; // a torn line: the session log reports it itself
        }
        const ev = (raw as { event?: { type?: unknown; callId?: unknown; auditSeq?: unknown } } | null)?.event;
        if (ev?.type === 'tool_call_update' && typeof ev.callId === 'string' && typeof ev.auditSeq === 'number')
          out.push({ sessionId, callId: ev.callId, seq: ev.auditSeq });
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    } finally {
      rl.close();
      input.destroy();
    }
  }
  return out;
}
