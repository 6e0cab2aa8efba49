import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { defineTool, LiveOutput, type Tool } from '../tools/index.js';
import { PYTHON_TOOL_DESCRIPTION } from './description.js';
import type { PythonSandbox } from './runtime.js';
import type { PythonRunResult } from './types.js';

/** Input of the `python` tool (exported as JSON Schema for the model). */
export const PythonToolInput = lazySchema(() =>
  z
    .object({
      code: z.string().max(1_000_000).optional().describe('Python source to run, like python3 -c'),
      file: z.string().max(4096).optional().describe('workspace-relative path of a script to run'),
      module: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_.]*$/)
        .optional()
        .describe('module to run, like python3 -m'),
      args: z.array(z.string().max(65_536)).max(1000).optional().describe('arguments (sys.argv[1:])'),
      stdin: z
        .string()
        .max(16 * 1024 * 1024)
        .optional()
        .describe('standard input'),
      timeoutMs: z.number().int().positive().max(600_000).optional().describe('time limit in milliseconds'),
    })
    .strict()
    .refine(
      (v) => [v.code, v.file, v.module].filter((x) => x !== undefined).length === 1,
      'give exactly one of code, file or module',
    ),
);

export type PythonToolInput = z.infer<ReturnType<typeof PythonToolInput>>;

/** The text the model sees: output, then a status line when the run did not end with exit 0. */
export function describeRun(r: PythonRunResult): string {
  const parts: string[] = [];
  if (r.stdout) parts.push(r.stdout.replace(/\n$/, ''));
  if (r.stderr) parts.push(`[stderr]\n${r.stderr.replace(/\n$/, '')}`);
  if (r.timedOut) parts.push(`[timed out after ${Math.round(r.durationMs)} ms; the program was stopped]`);
  else if (r.cancelled) parts.push('[cancelled]');
  else if (r.error) parts.push(`[stopped: ${r.error.message}]`);
  else if (r.exitCode !== 0) parts.push(`[exit code ${r.exitCode}]`);
  if (r.changed.length) parts.push(`[changed in the shadow workspace: ${r.changed.join(', ')}]`);
  return parts.join('\n') || '[no output]';
}

/** The `python` tool: CPython in the WASI sandbox over the session's shadow view. */
export function createPythonTool(sandbox: PythonSandbox): Tool<PythonToolInput> {
  return defineTool({
    name: 'python',
    kind: 'execute',
    description: PYTHON_TOOL_DESCRIPTION,
    input: PythonToolInput,
    targets: (input) => ({ resource: 'python', ...(input.file ? { paths: [input.file] } : {}) }),
    summarize: (input) =>
      input.file
        ? `python ${input.file}`
        : input.module
          ? `python -m ${input.module}`
          : `python -c ${JSON.stringify((input.code ?? '').split('\n')[0]?.slice(0, 60))}`,
    handler: async (input, ctx) => {
      const live = ctx.progress ? new LiveOutput(ctx.progress) : null;
      let r: PythonRunResult;
      try {
        r = await sandbox.run(input, {
          view: ctx.view,
          signal: ctx.signal,
          sessionId: ctx.sessionId,
          ...(live ? { onOutput: (stream: 'stdout' | 'stderr', text: string) => live.push(stream, text) } : {}),
        });
      } finally {
        live?.close();
      }
      return {
        content: describeRun(r),
        // A stdlib file that changed under the run (error file_mismatch) fails the call even if the guest exited 0.
        isError: r.exitCode !== 0 || r.error !== null,
        output: `${r.stdout}${r.stderr}`,
        changed: r.changed,
        data: {
          stdout: r.stdout,
          stderr: r.stderr,
          exitCode: r.exitCode ?? (r.timedOut ? 124 : 137),
          durationMs: r.durationMs,
          timedOut: r.timedOut,
          cancelled: r.cancelled,
          error: r.error,
          changed: r.changed,
          ...(r.refusedWrites ? { refusedWrites: r.refusedWrites } : {}),
          ...(r.timings ? { timings: r.timings } : {}),
        },
      };
    },
  });
}
