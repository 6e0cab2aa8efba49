import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ErrorCodes, ShadowboxError } from '../errors.js';

// Variables that would point git at another repository or index than the one we name explicitly.
const GIT_ENV_DROP = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR',
  'GIT_NAMESPACE',
  'GIT_PREFIX',
];

const IDENTITY = {
  GIT_AUTHOR_NAME: 'shadowbox',
  GIT_AUTHOR_EMAIL: 'shadowbox@localhost',
  GIT_COMMITTER_NAME: 'shadowbox',
  GIT_COMMITTER_EMAIL: 'shadowbox@localhost',
};

export interface GitRunOptions {
  cwd?: string;
  input?: string | Uint8Array;
  env?: Record<string, string>;
  /** Exit codes other than 0 that are answers, not failures (e.g. merge-file's conflict count). */
  okCodes?: number[];
}

/** Runs the git binary with a clean environment; a failure becomes ShadowFailed with git's stderr as cause. */
export type Git = (args: string[], options?: GitRunOptions) => Promise<{ stdout: string; exitCode: number }>;

/** Why: every git call goes through one place that strips inherited GIT_* variables and sets an identity. */
export function createGit(binary = 'git'): Git {
  const base: Record<string, string | undefined> = {
    ...IDENTITY,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    LC_ALL: 'C',
  };
  for (const k of GIT_ENV_DROP) base[k] = undefined;
  return async (args, options = {}) => {
    // execa (~100 modules) loads on the first call, not with the daemon.
    const { execa } = await import('execa');
    const r = await execa(binary, args, {
      cwd: options.cwd,
      input: options.input,
      env: { ...base, ...options.env },
      extendEnv: true,
      reject: false,
      stripFinalNewline: false,
    });
    const exitCode = r.exitCode ?? -1;
    if (exitCode !== 0 && !(options.okCodes ?? []).includes(exitCode)) {
      throw new ShadowboxError(
        ErrorCodes.ShadowFailed,
        'git_failed',
        `git ${args[0]} failed (${exitCode}): ${String(r.stderr).trim().slice(0, 400)}`,
        { command: args[0], exitCode },
        { cause: r },
      );
    }
    return { stdout: String(r.stdout), exitCode };
  };
}

/** Git's blob id of bytes held in memory ("blob <len>\0" + content, SHA-1). */
export function blobOid(data: Uint8Array | string): string {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return createHash('sha1').update(`blob ${buf.byteLength}\0`).update(buf).digest('hex');
}

/** Git's blob id of a file, streamed (never reads the whole file into memory). */
export async function fileBlobOid(file: string, size: number): Promise<string> {
  const h = createHash('sha1').update(`blob ${size}\0`);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export const ZERO_OID = '0000000000000000000000000000000000000000';

/** Git's file mode for a layer/base state: 100755 when any execute bit is set, else 100644; 120000 for symlinks. */
export function gitMode(type: 'file' | 'symlink', mode: number): string {
  if (type === 'symlink') return '120000';
  return mode & 0o111 ? '100755' : '100644';
}
