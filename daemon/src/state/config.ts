import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ErrorCodes, lazySchema, PolicyMode } from '@shadowbox/protocol';
import { ShadowboxError } from '../errors.js';
import { ONCE } from './parse-once.js';

/**
 * The daemon's config file: the default model and mode, plus sections other capabilities read (providers). Built
 * on first use (the client commands import this module and never read the config).
 */
export const ConfigFile = lazySchema(() =>
  z
    .object({
      model: z
        .string()
        .regex(/^[a-z0-9][a-z0-9_-]*\/.+$/, 'model must look like "openai/gpt-4o-mini"')
        .optional(),
      mode: PolicyMode().optional(),
      maxTurns: z.number().int().positive().max(1000).optional(),
      /** Silence limit of a model call (ms): before it starts answering and between streamed events. Default 60 s. */
      modelIdleTimeoutMs: z.number().int().positive().optional(),
      /** Wait for a model call to start answering (ms), retries included. Default: modelIdleTimeoutMs. */
      modelFirstByteTimeoutMs: z.number().int().positive().optional(),
      /** Sandbox settings: which runner executes bundles, and upper bounds on every run (a bundle may only ask for less). */
      wasi: z
        .strictObject({
          runner: z.enum(['inprocess', 'wasmtime']).optional(),
          maxLimits: z
            .strictObject({
              wallMs: z.number().int().positive().optional(),
              memoryBytes: z.number().int().positive().optional(),
              stdoutBytes: z.number().int().positive().optional(),
              stderrBytes: z.number().int().positive().optional(),
              fsBytes: z.number().int().positive().optional(),
            })
            .optional(),
        })
        .optional(),
      /** The shell tool's sandbox limits (docs/sandboxes.md says what each enforces). */
      shell: z
        .strictObject({
          timeoutMs: z.number().int().positive().optional(),
          maxTimeoutMs: z.number().int().positive().optional(),
          maxOutputBytes: z.number().int().positive().optional(),
          maxProcesses: z.number().int().positive().optional(),
          memoryBytes: z.number().int().positive().optional(),
          maxFileBytes: z.number().int().positive().optional(),
          tmpBytes: z.number().int().positive().optional(),
        })
        .optional(),
      /** The python tool: default and largest wall time of one run (a call or `--timeout` may ask up to the cap). */
      python: z
        .strictObject({
          timeoutMs: z.number().int().positive().optional(),
          maxTimeoutMs: z.number().int().positive().optional(),
        })
        .optional(),
    })
    .loose(),
);
export type ConfigFile = z.infer<ReturnType<typeof ConfigFile>>;

/**
 * Reads `$SHADOWBOX_STATE_DIR/config.json`, else `~/.config/shadowbox/config.json` (first that exists).
 * A missing file is an empty config; a broken one is a typed error naming the file and the field.
 */
export async function loadConfig(
  stateConfigFile: string,
  env: NodeJS.ProcessEnv,
): Promise<{ file: string | null; config: ConfigFile }> {
  const home = env.HOME ?? os.homedir();
  const candidates = [
    stateConfigFile,
    path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'shadowbox', 'config.json'),
  ];
  for (const file of candidates) {
    const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) =>
      e.code === 'ENOENT' ? null : Promise.reject(e),
    );
    if (text === null) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ShadowboxError(
        ErrorCodes.ConfigInvalid,
        'config_not_json',
        `${file} is not valid JSON: ${(e as Error).message}`,
        { file },
        { cause: e },
      );
    }
    const parsed = ConfigFile().safeParse(raw, ONCE);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ShadowboxError(
        ErrorCodes.ConfigInvalid,
        'config_invalid',
        `${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
        { file, path: issue.path.map(String) },
      );
    }
    return { file, config: parsed.data };
  }
  return { file: null, config: {} };
}

/** A non-negative integer from the environment, or undefined when unset; anything else is a typed ConfigInvalid. */
export function envInt(env: NodeJS.ProcessEnv, key: string): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new ShadowboxError(
      ErrorCodes.ConfigInvalid,
      'invalid_env',
      `${key} must be a non-negative integer, not "${raw}".`,
      { key, value: raw },
    );
  return n;
}
