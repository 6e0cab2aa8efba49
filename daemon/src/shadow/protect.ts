import { ErrorCodes, ShadowboxError } from '../errors.js';
import { compileGuardGlob, mayMatchAtOrBelow } from '../glob-base.js';

/** Where the protected globs of a workspace come from (the policy's `protected` list): picomatch, workspace-relative. */
export type ProtectedPathsSource = (workspace: string) => Promise<string[]>;

/** How long an answer of the source is reused before it is asked again (it may be asked on every write). */
export const PROTECTED_TTL_MS = 500;

interface Compiled {
  glob: string;
  test: (rel: string) => boolean;
  /** The glob's literal leading folder, lower-cased ('' when it may match anywhere: glob-base.ts): prunes subtree walks. */
  base: string;
}

/**
 * Why: sandboxed code writes through the layered view directly, not through a tool that declares
 * its paths to the policy; this is the same protected list enforced at the layer. Matches like the
 * policy does (dotfiles count, case-insensitive). Matchers are compiled once per distinct answer.
 */
export class ProtectedGlobs {
  private key: string | null = null;
  private compiled: Compiled[] = [];
  private fetchedAt = -Infinity;
  private inflight: Promise<Compiled[]> | null = null;

  constructor(
    private readonly source: ProtectedPathsSource,
    private readonly workspace: string,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = PROTECTED_TTL_MS,
  ) {}

  /** The compiled globs, asking the source again once the last answer is older than the TTL. */
  private async current(input: string): Promise<Compiled[]> {
    if (this.now() - this.fetchedAt < this.ttlMs) return this.compiled;
    this.inflight ??= this.refresh().finally(() => (this.inflight = null));
    try {
      return await this.inflight;
    } catch (e) {
      // Fail closed: without the list nothing can be known to be unprotected.
      throw new ShadowboxError(
        ErrorCodes.PathProtected,
        'protected_paths_unavailable',
        `cannot check protected paths, write refused: ${input} (${(e as Error).message})`,
        { path: input },
        { cause: e },
      );
    }
  }

  private async refresh(): Promise<Compiled[]> {
    const globs = await this.source(this.workspace);
    const key = JSON.stringify(globs);
    if (key !== this.key) {
      this.compiled = globs.map((glob) => ({ glob, ...compileGuardGlob(glob) }));
      this.key = key;
    }
    this.fetchedAt = this.now();
    return this.compiled;
  }

  /** Throws PathProtected/protected_path when one of `paths` (canonical relative forms of `input`) matches a glob. */
  async check(paths: string[], input: string): Promise<void> {
    const globs = await this.current(input);
    for (const p of paths) {
      const hit = globs.find((g) => g.test(p));
      if (hit) throw protectedError(input, p, hit.glob);
    }
  }

  /** True when some glob could match a path strictly below `dir` (so a remove/move of `dir` must look inside). */
  async mayMatchBelow(dir: string, input: string): Promise<boolean> {
    return (await this.current(input)).some((g) => mayMatchAtOrBelow(g.base, dir));
  }
}

/** The refusal: the protected path (the one that matched) and the glob that protects it. */
export function protectedError(input: string, rel: string, glob: string): ShadowboxError {
  return new ShadowboxError(
    ErrorCodes.PathProtected,
    'protected_path',
    `${input === rel ? rel : `${input} (${rel})`} is protected by ${glob}: writes, deletes and moves there are refused`,
    { path: rel, glob },
  );
}
