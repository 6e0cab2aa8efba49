import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { WorkspaceView } from '../shadow/index.js';
import { defineTool, type Tool } from '../tools/index.js';
import type { FetchPolicyFor, HostRule } from '../net/index.js';
import { RUN_BUNDLE_DESCRIPTION } from './run-bundle-description.js';
import type { ReadOnlyMount, WasiLimits, WasiRunResult, WasiRuntime } from './types.js';

/** One runnable module of a bundle: verified bytes and their SHA-256 (the compile cache key). */
export interface BundleEntryForRun {
  name: string;
  bytes: Uint8Array;
  sha256: string;
  env?: Record<string, string>;
}

/** What running needs from a verified bundle (the bundles capability adapts its LoadedBundle to this). */
export interface BundleForRun {
  name: string;
  version: string;
  entry: BundleEntryForRun;
  readEntry?(name: string): Promise<BundleEntryForRun>;
  /** Payload files by bundle-relative path (read-only in the guest). */
  files(): Promise<Map<string, Uint8Array>>;
  /** Declared mounts (`bundle` → read-only files, `workspace` → /workspace, `tmp` → /tmp). Empty: the defaults. */
  mounts: { guest: string; source: 'workspace' | 'tmp' | 'bundle'; access: 'ro' | 'rw' }[];
  limits: { memoryMb: number; timeoutMs: number; maxOutputBytes: number };
  /** Declared netFetch allowlist (`https://host[:port]`, `http://host:port`, `host`, `*.domain`), or null. */
  netFetch: { allow: string[] } | null;
}

/** Dependencies of run_bundle and runWasiCommand. */
export interface RunBundleDeps {
  runtime: WasiRuntime;
  loadBundle(name: string): Promise<BundleForRun>;
  /** Upper bounds the policy puts on every run; a bundle's own limits may only be narrower. */
  maxLimits?: Partial<WasiLimits>;
  runner?: 'inprocess' | 'wasmtime';
  /**
   * The person's policy on a guest fetch, per bundle (the tool name it is asked as) and session. A
   * request must be in the bundle manifest's netFetch allowlist AND allowed here (asked for every URL's
   * host and every resolved address, redirect hops included). Without it the manifest alone decides
   * (tests, embedders without a policy).
   */
  fetchPolicy?: FetchPolicyFor;
}

/** Parses a manifest netFetch allow entry into a host rule. */
export function parseAllowEntry(entry: string): HostRule {
  if (!entry.includes('://')) return { host: entry };
  const u = new URL(entry);
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new ShadowboxError(ErrorCodes.BundleInvalid, 'invalid_net_rule', `netFetch rule ${entry} must be http(s)`);
  return {
    host: u.hostname,
    scheme: u.protocol === 'http:' ? 'http' : 'https',
    ...(u.port ? { port: Number(u.port) } : {}),
  };
}

/** Options of one bundle run (CLI or tool). */
export interface BundleRunOptions {
  bundle: string;
  command?: string;
  args: string[];
  stdin?: Uint8Array;
  timeoutMs?: number;
  view?: WorkspaceView;
  signal?: AbortSignal;
  sessionId?: string;
  /** The session's real workspace root (attributes netFetch audit entries). */
  workspace?: string;
}

/** Runs one bundle command: mounts, limits (bundle ∩ policy ∩ call) and netFetch rules from the manifest. */
export async function runWasiCommand(deps: RunBundleDeps, o: BundleRunOptions): Promise<WasiRunResult> {
  const b = await deps.loadBundle(o.bundle);
  const entry =
    o.command === undefined || o.command === b.entry.name ? b.entry : b.readEntry ? await b.readEntry(o.command) : null;
  if (!entry)
    throw new ShadowboxError(
      ErrorCodes.BundleNotFound,
      'entry_not_found',
      `bundle ${b.name} has no command ${o.command ?? ''}`,
    );
  const declared =
    b.mounts.length > 0
      ? b.mounts
      : [
          { guest: '/bundle', source: 'bundle' as const, access: 'ro' as const },
          { guest: '/workspace', source: 'workspace' as const, access: 'rw' as const },
          { guest: '/tmp', source: 'tmp' as const, access: 'rw' as const },
        ];
  const readOnly: ReadOnlyMount[] = [];
  for (const m of declared.filter((x) => x.source === 'bundle')) readOnly.push({ at: m.guest, files: await b.files() });
  const max = deps.maxLimits ?? {};
  const cap = (a: number, ...rest: (number | undefined)[]): number =>
    Math.min(a, ...rest.filter((x): x is number => x !== undefined));
  const limits: WasiLimits = {
    wallMs: cap(b.limits.timeoutMs, max.wallMs, o.timeoutMs),
    memoryBytes: cap(b.limits.memoryMb * 1024 * 1024, max.memoryBytes),
    stdoutBytes: cap(b.limits.maxOutputBytes, max.stdoutBytes),
    stderrBytes: cap(b.limits.maxOutputBytes, max.stderrBytes),
  };
  const wsMount = declared.find((m) => m.source === 'workspace');
  return deps.runtime.run({
    module: { sha256: entry.sha256, load: async () => entry.bytes },
    mounts: {
      readOnly,
      tmp: declared.some((m) => m.source === 'tmp'),
      ...(wsMount && o.view ? { workspace: o.view, workspaceAccess: wsMount.access } : {}),
    },
    argv: [entry.name, ...o.args],
    env: { ...(entry.env ?? {}), PWD: '/workspace' },
    ...(o.stdin ? { stdin: o.stdin } : {}),
    limits,
    ...(b.netFetch
      ? {
          netFetch: {
            allowed: true,
            rules: b.netFetch.allow.map(parseAllowEntry),
            ...(deps.fetchPolicy ? { authorize: deps.fetchPolicy(b.name, o.sessionId) } : {}),
          },
        }
      : {}),
    ...(deps.runner ? { runner: deps.runner } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.sessionId ? { sessionId: o.sessionId } : {}),
    ...(o.workspace ? { workspaceRoot: o.workspace } : {}),
  });
}

/** Input of `run_bundle` (exported as JSON Schema for the model). */
export const RunBundleInput = lazySchema(() =>
  z
    .object({
      bundle: z
        .string()
        .regex(/^[a-z][a-z0-9-]{0,62}$/)
        .describe('installed bundle name, e.g. sqlite'),
      command: z
        .string()
        .regex(/^[a-z][a-z0-9-]{0,62}$/)
        .optional()
        .describe('bundle entry to run (default: the first)'),
      args: z.array(z.string().max(65_536)).max(1000).default([]).describe('arguments after the program name'),
      stdin: z
        .string()
        .max(16 * 1024 * 1024)
        .optional()
        .describe('standard input'),
      timeoutMs: z
        .number()
        .int()
        .positive()
        .max(600_000)
        .optional()
        .describe('time limit in milliseconds (bounded by the bundle and policy)'),
    })
    .strict(),
);

export type RunBundleInput = z.infer<ReturnType<typeof RunBundleInput>>;

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

/** The text the model sees: output, then a status line when the run did not exit 0. */
export function describeWasiRun(r: WasiRunResult): string {
  const parts: string[] = [];
  const out = text(r.stdout);
  const err = text(r.stderr);
  if (out) parts.push(out.replace(/\n$/, ''));
  if (err) parts.push(`[stderr]\n${err.replace(/\n$/, '')}`);
  if (r.outcome === 'timeout') parts.push(`[timed out after ${Math.round(r.durationMs)} ms; the program was stopped]`);
  else if (r.outcome !== 'exited') parts.push(`[stopped: ${r.outcome}${r.trapMessage ? ` (${r.trapMessage})` : ''}]`);
  else if (r.exitCode !== 0) parts.push(`[exit code ${r.exitCode}]`);
  if (r.changed.length) parts.push(`[changed in the shadow workspace: ${r.changed.join(', ')}]`);
  if (r.refusedWrites?.length)
    parts.push(`[writes refused: ${r.refusedWrites.map((w) => `${w.path} (${w.reason})`).join(', ')}]`);
  return parts.join('\n') || '[no output]';
}

/** The `run_bundle` tool over the session's shadow view; the policy sees the bundle as the resource. */
export function createRunBundleTool(deps: RunBundleDeps): Tool<RunBundleInput> {
  return defineTool({
    name: 'run_bundle',
    kind: 'execute',
    description: RUN_BUNDLE_DESCRIPTION,
    input: RunBundleInput,
    concurrent: true,
    targets: (input) => ({ resource: input.bundle }),
    summarize: (input) =>
      `${input.bundle}${input.command ? `:${input.command}` : ''} ${input.args.join(' ')}`.slice(0, 120),
    handler: async (input, ctx) => {
      const r = await runWasiCommand(deps, {
        bundle: input.bundle,
        args: input.args,
        view: ctx.view,
        signal: ctx.signal,
        sessionId: ctx.sessionId,
        workspace: ctx.workspace,
        ...(input.command ? { command: input.command } : {}),
        ...(input.stdin !== undefined ? { stdin: Buffer.from(input.stdin) } : {}),
        ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}),
      });
      return {
        content: describeWasiRun(r),
        isError: r.outcome !== 'exited' || r.exitCode !== 0,
        output: `${text(r.stdout)}${text(r.stderr)}`,
        changed: r.changed,
        data: {
          exitCode: r.exitCode,
          outcome: r.outcome,
          durationMs: r.durationMs,
          stdoutTruncated: r.stdoutTruncated,
          stderrTruncated: r.stderrTruncated,
          runner: r.runner,
        },
      };
    },
  });
}
