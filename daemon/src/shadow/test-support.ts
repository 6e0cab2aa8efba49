import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AuditEntryInput, AuditSink } from '../audit/index.js';
import { silentLogger } from '../state/index.js';
import { createShadowService, type ShadowService, type ShadowServiceDeps } from './service.js';

/**
 * An audit sink that keeps entries in memory (a fake, not a mock: it records what the service sends); `seals` holds,
 * for each seal, how many entries had been appended by then.
 */
export function memoryAudit(): AuditSink &
  Required<Pick<AuditSink, 'seal'>> & { entries: AuditEntryInput[]; seals: number[] } {
  const entries: AuditEntryInput[] = [];
  const seals: number[] = [];
  return {
    entries,
    seals,
    append: async (e: AuditEntryInput) => void entries.push(structuredClone(e)),
    seal: async () => void seals.push(entries.length),
  };
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

/** The built shadow capability a crash test runs in a child process (kill -9 needs a real process). */
export function builtShadow(): string {
  const dist = fileURLToPath(new URL('../../dist/shadow/index.js', import.meta.url));
  if (!existsSync(dist)) throw new Error('build the daemon first (npm run build)');
  return pathToFileURL(dist).href;
}

/**
 * A child process running the built shadow service on `stateDir`: `hooks` is JS defining `deps` extras
 * (e.g. `faults`, `onAcceptStep`), `body` uses `svc`. `until(text)` resolves once the child printed it
 * (or exited: then it rejects), so a test can SIGKILL it at a known point.
 */
export function shadowChild(stateDir: string, hooks: string, body: string) {
  const script = `const { createShadowService } = await import(${JSON.stringify(builtShadow())});
    const logger = { info() {}, warn() {}, error() {}, debug() {}, close: async () => {} };
    const extra = {}; ${hooks}
    const svc = createShadowService({ stateDir: ${JSON.stringify(stateDir)}, audit: { append: async () => {}, seal: async () => {} }, logger, ...extra });
    ${body}
    process.stdout.write('done');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const listeners: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += String(d);
    for (const l of listeners) l();
  });
  return {
    child,
    exited,
    output: () => out,
    stderr: () => err,
    /** Resolves once the child printed `text`; rejects when it exited without printing it. */
    until(text: string): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const check = () => out.includes(text) && resolve();
        listeners.push(check);
        check();
        void exited.then(() => (out.includes(text) ? resolve() : reject(new Error(`child exited: ${out} ${err}`))));
      });
    },
    async kill(): Promise<void> {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
