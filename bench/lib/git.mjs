// git for the benchmarks' fixture repositories: a fixed author, and gc.auto=0 (a background auto-gc would skew
// the timings and race the clean-up of a 100k-file repository).
import { execFileSync } from 'node:child_process';

export const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'b',
  GIT_AUTHOR_EMAIL: 'b@b',
  GIT_COMMITTER_NAME: 'b',
  GIT_COMMITTER_EMAIL: 'b@b',
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'gc.auto',
  GIT_CONFIG_VALUE_0: '0',
};

/** Runs git in `cwd` and returns its stdout. */
export function git(cwd, ...args) {
  return execFileSync('git', args, {
    cwd,
    env: gitEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 28,
  }).toString();
}
