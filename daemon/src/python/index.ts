// Sandboxed CPython (the official `python` bundle) as the `python` tool. Other capabilities import only this file.
import type { FileIdentity } from '../file-identity.js';
import type { Logger } from '../state/index.js';
import type { Tool } from '../tools/index.js';
import { createPythonTool, type PythonToolInput } from './python-tool.js';
import { DEFAULT_PYTHON_LIMITS, PythonSandbox, type PythonLimits, type WarmOutcome } from './runtime.js';
import type {
  PythonBundleFiles,
  PythonModuleClaim,
  PythonNetFetch,
  PythonRunContext,
  PythonRunInput,
  PythonRunResult,
} from './types.js';

export type {
  PythonBundleFiles,
  PythonModuleClaim,
  PythonNetFetch,
  PythonRunContext,
  PythonRunInput,
  PythonRunResult,
} from './types.js';
export { DEFAULT_PYTHON_LIMITS, pythonArgv, type PythonLimits } from './runtime.js';
export { PythonToolInput, describeRun } from './python-tool.js';

/** A bundle as the bundles capability gives it (its ClaimedEntry, or a LocatedBundle with `checked`). */
interface BundleEntryOf {
  filesDir: string;
  entry: { path: string; sha256: string; size: number };
}

/** A bundle's files folder and default entry, as python takes them (from a checked `locate` or an unchecked claim). */
export const pythonModuleOf = (b: BundleEntryOf): PythonModuleClaim => ({
  filesDir: b.filesDir,
  module: { path: b.entry.path, sha256: b.entry.sha256, size: b.entry.size },
});

/** A checked bundle (`bundles.locate`): also its stdlib, the manifest's lib/ files, each as the check found it. */
export const pythonFilesOf = (
  b: BundleEntryOf & { checked: ReadonlyMap<string, FileIdentity> },
): PythonBundleFiles => ({
  ...pythonModuleOf(b),
  lib: new Map([...b.checked].filter(([path]) => path.startsWith('lib/'))),
});

/** What the daemon wires: the tool, a direct run API (CLI, bench), warm-up and shutdown. */
export interface Python {
  tool: Tool<PythonToolInput>;
  run(input: PythonRunInput, ctx: PythonRunContext): Promise<PythonRunResult>;
  /**
   * Loads the bundle, compiles the module, reads the stdlib, spawns the worker, then runs CPython
   * once in a separate throwaway worker (a real call that arrives meanwhile takes over instead of
   * waiting): call once at daemon start (`void python.warm()`). Never rejects: resolves how it ended
   * (`primed`: no real call came first), or false when the bundle cannot be loaded (not built/installed;
   * logged), and the first call then tries again.
   */
  warm(): Promise<WarmOutcome | false>;
  /**
   * Resolves when no call is running: at once, or when the calls in flight have ended (their results are theirs).
   * The daemon holds back work it can do later until then (the shell's re-probe after a start).
   */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Dependencies: where the verified bundle is, the netFetch handler (the net capability's guest fetch for `python`), limits. */
export interface PythonDeps {
  /** The python bundle, checked (signature, files); the module itself is hashed by the worker that reads it. */
  loadBundle: () => Promise<PythonBundleFiles>;
  /**
   * What the installed bundle claims its module is (its manifest read without any check; null when there is none):
   * compiling starts from it while loadBundle checks, and its result is used only if the checked bundle agrees.
   */
  claimBundle?: () => Promise<PythonModuleClaim | null>;
  netFetch?: PythonNetFetch;
  limits?: Partial<PythonLimits>;
  logger?: Logger;
}

/** Creates the python capability; nothing runs until warm() or the first call. */
export function createPython(deps: PythonDeps): Python {
  const sandbox = new PythonSandbox(
    deps.loadBundle,
    { ...DEFAULT_PYTHON_LIMITS, ...deps.limits },
    deps.netFetch,
    deps.claimBundle ? { claimBundle: deps.claimBundle } : {},
  );
  return {
    tool: createPythonTool(sandbox),
    run: (input, ctx) => sandbox.run(input, ctx),
    warm: () =>
      sandbox.warm().then(
        (outcome) => {
          deps.logger?.info(`python: warm (${outcome})`);
          return outcome;
        },
        (e: unknown) => {
          deps.logger?.info(`python: not warmed: ${e instanceof Error ? e.message : String(e)}`);
          return false as const;
        },
      ),
    idle: () => sandbox.idle(),
    close: () => sandbox.close(),
  };
}
