// The grep worker thread: compiles the pattern with re2js (linear-time matching) and answers batches
// of files with their matching lines. Spawned by grep-worker.ts from the compiled file beside it.
import { parentPort, workerData } from 'node:worker_threads';
import { RE2JS } from 're2js';

/** What the pool sends: the pattern once, then batches of files. */
export type GrepWorkerMessage =
  | { type: 'pattern'; source: string; flags: number }
  | { type?: undefined; jobs: { id: number; path: string; bytes: Uint8Array; limit: number }[] };

/** What the thread answers for one batch. */
export type GrepWorkerReply = { id: number; lines: string[] }[];

/** The thread's options (workerData). */
export interface GrepThreadData {
  maxLineChars: number;
}

const { maxLineChars } = workerData as GrepThreadData;
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
let perLine: RE2JS | null = null;
let whole: RE2JS | null = null;

/** The matching lines of one file as "path:line: text", at most `limit`. */
function search(path: string, bytes: Uint8Array, limit: number): string[] {
  let s = decoder.decode(bytes);
  if (s.includes('\r')) {
    s = s.replaceAll('\r\n', '\n');
    if (s.endsWith('\r')) s = s.slice(0, -1);
  }
  // One DFA pass over the whole file (multi-line mode) rules out most files; a line can only match
  // where the whole text does, so this never drops a match.
  if (s === '' || !whole?.test(s)) return [];
  const out: string[] = [];
  for (let start = 0, no = 1; start < s.length && out.length < limit; no++) {
    let end = s.indexOf('\n', start);
    if (end < 0) end = s.length;
    const line = s.slice(start, end);
    if (perLine?.test(line))
      out.push(`${path}:${no}: ${line.length > maxLineChars ? `${line.slice(0, maxLineChars)}...` : line}`);
    start = end + 1;
  }
  return out;
}

parentPort?.on('message', (m: GrepWorkerMessage) => {
  if (m.type === 'pattern') {
    perLine = RE2JS.compile(m.source, m.flags);
    whole = RE2JS.compile(m.source, m.flags | RE2JS.MULTILINE);
    return;
  }
  const reply: GrepWorkerReply = m.jobs.map((j) => ({ id: j.id, lines: search(j.path, j.bytes, j.limit) }));
  parentPort?.postMessage(reply);
});
