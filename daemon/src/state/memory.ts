// Gives back the memory one-off start-up work left behind. Python's warm-up reads and copies CPython's
// 13 MiB module (the file, then the copy with its memory capped), parses the stdlib's listing and runs
// a throwaway interpreter in a worker; all of that is garbage once it is done, but an idle daemon
// allocates nothing more, so V8 never collects it and the process holds ~30 MiB it does not use
// (bench/start.mjs: idle RSS 163 → 133 MiB, 132.3–132.8 over 7 rounds, on this machine).
//
// Why the inspector: Node has no API for a full, memory-reducing collection. `global.gc` needs
// --expose-gc (a process flag; setting it at run time is what v8.setFlagsFromString warns against) and
// runs an ordinary full GC (one try, 200 ms after the warm-up, showed no drop); `HeapProfiler.collectGarbage` over an
// in-process inspector session (no port, no listener: `node:inspector`'s Session talks to this thread's
// own inspector) collects all available garbage and shrinks the heap, as DevTools' "collect garbage"
// does. It stops the event loop for its duration (30–65 ms measured), so callers run it once, when idle.
import type { Logger } from './logger.js';

const MiB = 1024 * 1024;

/** Runs one full, memory-reducing garbage collection; resolves how long it took and the RSS before and after (MiB). */
export async function releaseMemory(): Promise<{ ms: number; rssBefore: number; rssAfter: number }> {
  const { Session } = process.getBuiltinModule('node:inspector');
  const rssBefore = process.memoryUsage.rss() / MiB;
  const t0 = performance.now();
  const session = new Session();
  session.connect();
  try {
    await new Promise<void>((resolve, reject) =>
      session.post('HeapProfiler.collectGarbage', (e) => (e ? reject(e) : resolve())),
    );
  } finally {
    session.disconnect();
  }
  return { ms: performance.now() - t0, rssBefore, rssAfter: process.memoryUsage.rss() / MiB };
}

/** releaseMemory(), logged at debug; never rejects (memory that stays is only memory). */
export async function releaseMemoryQuietly(logger: Logger, after: string): Promise<void> {
  try {
    const r = await releaseMemory();
    logger.debug(
      `memory: collected after ${after} in ${r.ms.toFixed(0)} ms, RSS ${r.rssBefore.toFixed(0)} → ${r.rssAfter.toFixed(0)} MiB`,
    );
  } catch (e) {
    logger.debug(`memory: could not collect after ${after}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
