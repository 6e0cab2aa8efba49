import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditEntryInput, AuditSink } from '../audit/sink.js';
import { silentLogger } from '../state/index.js';
import { createShadowService, type ShadowService, type ShadowServiceDeps } from './service.js';

/** An audit sink that keeps entries in memory (a fake, not a mock: it records what the service sends). */
export function memoryAudit(): AuditSink & { entries: AuditEntryInput[] } {
  const entries: AuditEntryInput[] = [];
  return { entries, append: async (e) => void entries.push(structuredClone(e)) };
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    },
  });
}

/** A temp workspace (optionally a git repo with one commit of `files`) and a state dir beside it. */
export function makeWorkspace(files: Record<string, string | Buffer>, options: { git?: boolean } = {}) {
  const top = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'sbx-shadow-')));
  const root = path.join(top, 'ws');
  const stateDir = path.join(top, 'state');
  mkdirSync(root);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), c);
  }
  if (options.git !== false) {
    git(root, 'init', '-q', '-b', 'main');
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'initial');
  }
  const audit = memoryAudit();
  const services: ShadowService[] = [];
  const open = (extra: Partial<ShadowServiceDeps> = {}) => {
    const s = createShadowService({ stateDir, audit, logger: silentLogger, ...extra });
    services.push(s);
    return s;
  };
  return {
    top,
    root,
    stateDir,
    audit,
    open,
    async cleanup() {
      for (const s of services) await s.close();
      rmSync(top, { recursive: true, force: true });
    },
  };
}
