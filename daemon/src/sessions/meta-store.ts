import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { McpServers, PolicyMode, lazySchema } from '@shadowbox/protocol';
import { type Logger, writeFileAtomic } from '../state/index.js';
import type { SessionMeta } from './live-session.js';

const Meta = lazySchema(() =>
  z.object({
    sessionId: z.string(),
    workspace: z.string(),
    model: z.string(),
    mode: PolicyMode(),
    title: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    // Optional: metas written before sessions had MCP servers have none. A set that no longer parses
    // is dropped, never the session.
    mcpServers: McpServers().optional().catch(undefined),
  }),
);

/**
 * Each session's meta.json under `<state>/sessions/<id>/`: read strictly (an unreadable one quarantines its
 * session instead of stopping the daemon), written durably, one write at a time per session.
 */
export class MetaStore {
  private readonly writes = new Map<string, Promise<void>>();

  constructor(
    readonly root: string,
    private readonly logger: Logger,
  ) {}

  /** The session's folder. */
  dir(sessionId: string): string {
    return path.join(this.root, sessionId);
  }

  /** A session's meta, or null: a session folder without one is skipped; an unreadable one is quarantined. */
  async read(id: string): Promise<SessionMeta | null> {
    const dir = this.dir(id);
    const metaText = await readFile(path.join(dir, 'meta.json'), 'utf8').catch((e: NodeJS.ErrnoException) =>
      e.code === 'ENOENT' || e.code === 'ENOTDIR' ? null : Promise.reject(e),
    );
    if (metaText === null) return null;
    let problem: string;
    try {
      const parsed = Meta().safeParse(JSON.parse(metaText) as unknown);
      if (parsed.success && parsed.data.sessionId === id) return parsed.data;
      problem = parsed.success ? `names session ${parsed.data.sessionId}` : z.prettifyError(parsed.error);
    } catch (e) {
      problem = `not JSON (${(e as Error).message})`;
    }
    const aside = path.join(this.root, `.quarantine-${id}-${Date.now()}`);
    await rename(dir, aside).catch(() => undefined);
    this.logger.error(
      `session ${id}: meta.json is unreadable (${problem.replace(/\s+/g, ' ')}); the session is quarantined in ${aside}`,
    );
    return null;
  }

  /** Writes meta.json atomically; writes of one session are serialized, so concurrent changes land in order. */
  save(meta: SessionMeta): Promise<void> {
    const file = path.join(this.dir(meta.sessionId), 'meta.json');
    const write = async () => {
      await writeFileAtomic(file, JSON.stringify(meta, null, 2), { mode: 0o600 });
    };
    const next = (this.writes.get(meta.sessionId) ?? Promise.resolve()).then(write, write);
    this.writes.set(meta.sessionId, next);
    void next
      .finally(() => {
        if (this.writes.get(meta.sessionId) === next) this.writes.delete(meta.sessionId);
      })
      .catch(() => undefined);
    return next;
  }
}
