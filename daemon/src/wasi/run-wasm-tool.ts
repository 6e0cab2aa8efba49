import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { defineTool, type Tool } from '../tools/index.js';
import { describeWasiRun } from './run-bundle-tool.js';
import { RUN_WASM_DESCRIPTION } from './run-wasm-description.js';
import type { ViewMount, WasiLimits, WasiRuntime } from './types.js';

/** Limits of a local module's run before the policy's caps (config wasi.maxLimits) and the call's timeout. */
const DEFAULT_LIMITS: WasiLimits = {
  wallMs: 30_000,
  memoryBytes: 512 * 1024 * 1024,
  stdoutBytes: 8 * 1024 * 1024,
  stderrBytes: 8 * 1024 * 1024,
};

/** Input of `run_wasm` (exported as JSON Schema for the model). */
export const RunWasmInput = lazySchema(() =>
  z
    .object({
      module: z.string().min(1).max(4096).describe('workspace-relative path of the .wasm module'),
      dirs: z
        .array(
          z
            .object({
              path: z.string().max(4096).describe('workspace-relative folder ("." for the whole workspace)'),
              at: z
                .string()
                .regex(/^\/([A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)?$/)
                .describe('absolute guest path to mount it at'),
            })
            .strict(),
        )
        .max(16)
        .optional()
        .describe('folders to mount (default: the workspace at /workspace); the first is the working directory'),
      args: z.array(z.string().max(65_536)).max(1000).default([]).describe('arguments after the program name'),
      env: z
        .record(z.string().regex(/^[^=\0]+$/), z.string())
        .optional()
        .describe('environment variables'),
      stdin: z
        .string()
        .max(16 * 1024 * 1024)
        .optional()
        .describe('standard input'),
      timeoutMs: z.number().int().positive().max(600_000).optional().describe('time limit in milliseconds'),
    })
    .strict(),
);

export type RunWasmInput = z.infer<ReturnType<typeof RunWasmInput>>;

/** Dependencies of run_wasm: the runtime and the policy's caps on every run. */
export interface RunWasmDeps {
  runtime: WasiRuntime;
  maxLimits?: Partial<WasiLimits>;
}

/**
 * `run_wasm`: a module from the workspace (unsigned: the person's or the agent's own build) in the
 * same sandbox as bundles. Only workspace folders can be mounted, each through the session's shadow
 * view (writes reviewable, reads as the view resolves them): a folder outside the workspace would
 * let a run read what the person never put in reach, so it is not offered. No netFetch: there is
 * no manifest naming what a local module may reach.
 */
export function createRunWasmTool(deps: RunWasmDeps): Tool<RunWasmInput> {
  return defineTool({
    name: 'run_wasm',
    kind: 'execute',
    description: RUN_WASM_DESCRIPTION,
    input: RunWasmInput,
    concurrent: true,
    targets: (input) => ({
      resource: 'wasm',
      paths: [input.module, ...(input.dirs ?? []).map((d) => d.path)],
    }),
    summarize: (input) => `${input.module} ${input.args.join(' ')}`.slice(0, 120),
    handler: async (input, ctx) => {
      const dirs = input.dirs ?? [{ path: '.', at: '/workspace' }];
      const views: ViewMount[] = [];
      for (const d of dirs) {
        const rel = await ctx.view.resolve(d.path, 'read');
        const st = await ctx.view.stat(rel);
        if (st?.type !== 'dir') {
          throw new ShadowboxError(ErrorCodes.NotAFile, 'not_a_directory', `${d.path} is not a folder`, {
            path: d.path,
          });
        }
        views.push({ at: d.at, view: ctx.view, access: 'rw', ...(rel ? { prefix: rel } : {}) });
      }
      const bytes = await ctx.view.readFile(input.module);
      const max = deps.maxLimits ?? {};
      const cap = (a: number, ...rest: (number | undefined)[]) =>
        Math.min(a, ...rest.filter((x): x is number => x !== undefined));
      const limits: WasiLimits = {
        wallMs: cap(DEFAULT_LIMITS.wallMs, max.wallMs, input.timeoutMs),
        memoryBytes: cap(DEFAULT_LIMITS.memoryBytes, max.memoryBytes),
        stdoutBytes: cap(DEFAULT_LIMITS.stdoutBytes, max.stdoutBytes),
        stderrBytes: cap(DEFAULT_LIMITS.stderrBytes, max.stderrBytes),
        ...(max.fsBytes ? { fsBytes: max.fsBytes } : {}),
      };
      const name = input.module.split('/').pop() ?? 'module.wasm';
      const r = await deps.runtime.run({
        module: { bytes },
        mounts: { views, tmp: true },
        cwd: views[0]?.at ?? '/',
        argv: [name, ...input.args],
        env: input.env ?? {},
        ...(input.stdin !== undefined ? { stdin: Buffer.from(input.stdin) } : {}),
        limits,
        signal: ctx.signal,
        sessionId: ctx.sessionId,
      });
      const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
      return {
        content: describeWasiRun(r),
        isError: r.outcome !== 'exited' || r.exitCode !== 0,
        output: `${text(r.stdout)}${text(r.stderr)}`,
        changed: r.changed,
        data: {
          stdout: text(r.stdout),
          stderr: text(r.stderr),
          exitCode: r.exitCode,
          outcome: r.outcome,
          durationMs: r.durationMs,
          ...(r.refusedWrites ? { refusedWrites: r.refusedWrites } : {}),
        },
      };
    },
  });
}
