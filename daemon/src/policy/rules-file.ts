import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type PolicyRule, ToolKind, lazySchema } from '@shadowbox/protocol';
import { z } from 'zod';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { workspaceStateDir, writeFileAtomic } from '../state/index.js';
import { isValidHostPattern } from './match.js';

type Rule = PolicyRule;

/**
 * One rule as stored. Strict: an unknown key (say `paths` for `path`) is an error, not silently
 * dropped — dropping it would turn a narrow deny into a deny-everything, or a narrow allow into an
 * allow-everything.
 */
export const StoredRule = lazySchema(() =>
  z
    .object({
      id: z.string().min(1),
      action: z.enum(['allow', 'ask', 'deny']),
      tool: z.string().min(1).optional(),
      kind: ToolKind().optional(),
      path: z.string().min(1).optional(),
      host: z.string().min(1).optional(),
      port: z.number().int().min(1).max(65535).optional(),
      command: z.string().min(1).max(1000).optional(),
      network: z.boolean().optional(),
      addedBy: z.string().optional(),
      addedAt: z.string().optional(),
    })
    .strict(),
);
export type StoredRule = z.infer<ReturnType<typeof StoredRule>>;

/** The project rules file: `<state>/workspaces/<id>/policy.json`, owned by the user, outside the workspace. */
export const RulesFile = lazySchema(() =>
  z
    .object({
      version: z.literal(1),
      workspace: z.string().optional(),
      rules: z.array(StoredRule()),
      /** Extra protected path globs for this workspace (on top of the defaults and the daemon's list). */
      protected: z.array(z.string().min(1)).default([]),
    })
    .strict(),
);
export type RulesFile = z.infer<ReturnType<typeof RulesFile>>;

/** Where a workspace's project rules live. */
export function rulesFilePath(stateDir: string, workspace: string): string {
  return path.join(workspaceStateDir(stateDir, workspace), 'policy.json');
}

/**
 * A file version stamp: a hand edit changes it, so the cache reloads on the next decision. Every tool call's
 * decision takes one, so it is a synchronous stat of a file in the daemon's own state dir (~5 µs), not a
 * thread-pool round trip the call waits for.
 */
export function fileStamp(file: string): string | null {
  const s = statSync(file, { bigint: true, throwIfNoEntry: false });
  return s ? `${s.ino}:${s.size}:${s.mtimeNs}` : null;
}

/** Reads and validates the rules file; a missing file is an empty one, a corrupt one a typed error. */
export async function loadRulesFile(file: string): Promise<RulesFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, rules: [], protected: [] };
    throw new ShadowboxError(
      ErrorCodes.PolicyInvalid,
      'rules_file_unreadable',
      `cannot read policy rules file ${file}`,
      { file },
      { cause: e },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ShadowboxError(
      ErrorCodes.PolicyInvalid,
      'rules_file_corrupt',
      `policy rules file ${file} is not valid JSON; fix or remove it (it is not overwritten)`,
      { file },
      { cause: e },
    );
  }
  const parsed = RulesFile().safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new ShadowboxError(
      ErrorCodes.PolicyInvalid,
      'rules_file_corrupt',
      `policy rules file ${file} is invalid at ${issues[0]?.path || '(root)'}: ${issues[0]?.message}; fix or remove it (it is not overwritten)`,
      { file, issues },
      { cause: parsed.error },
    );
  }
  try {
    parsed.data.rules.forEach((r, i) => checkRule(r, `rules.${i}`));
  } catch (e) {
    const field = e instanceof ShadowboxError && typeof e.data.field === 'string' ? e.data.field : '(rules)';
    throw new ShadowboxError(
      ErrorCodes.PolicyInvalid,
      'rules_file_corrupt',
      `policy rules file ${file} is invalid: ${(e as Error).message}; fix or remove it (it is not overwritten)`,
      { file, issues: [{ path: field, message: (e as Error).message }] },
      { cause: e },
    );
  }
  return parsed.data;
}

/** Writes the file atomically and durably (the daemon's one temp + fsync + rename), 0600, in a 0700 folder. */
export async function saveRulesFile(file: string, content: RulesFile): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(content, null, 2) + '\n', { mode: 0o600, mkdirMode: 0o700 });
}

/** A stable id from the rule's content: the same rule added twice is one rule. */
export function ruleId(rule: Rule): string {
  const key = JSON.stringify([
    rule.action,
    rule.tool ?? null,
    rule.kind ?? null,
    rule.path ?? null,
    rule.host ?? null,
    // Added later: present only when set, so the ids of rules without a port do not change.
    ...(rule.port !== undefined ? [rule.port] : []),
  ]);
  return 'r' + createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * Refuses rules that cannot mean what they say: an allow rule that names nothing (it would allow every
 * call by omission; say `tool: "*"` to mean that), absolute or `..` paths, malformed hosts (a URL, a
 * port inside the host), and a port without a host. `field` names the offending field.
 */
export function checkRule(rule: Rule, at = 'rule'): void {
  if (rule.action === 'allow' && [rule.tool, rule.kind, rule.path, rule.host].every((f) => f === undefined)) {
    throw new ShadowboxError(
      ErrorCodes.PolicyInvalid,
      'rule_matches_everything',
      `${at}: an allow rule must name what it allows (tool, kind, path or host); to allow every call write tool "*"`,
      { field: at },
    );
  }
  if (rule.path !== undefined && (rule.path.startsWith('/') || rule.path.split('/').includes('..'))) {
    throw new ShadowboxError(
      ErrorCodes.PolicyInvalid,
      'bad_path_pattern',
      `${at}.path: "${rule.path}" must be relative to the workspace, without ".."`,
      { field: `${at}.path`, path: rule.path },
    );
  }
  if (rule.host !== undefined && !isValidHostPattern(rule.host)) {
    throw new ShadowboxError(
      ErrorCodes.PolicyInvalid,
      'bad_host_pattern',
      `${at}.host: "${rule.host}" must be a host name, an IP address or *.domain (no scheme, port or path)`,
      { field: `${at}.host`, host: rule.host },
    );
  }
  if (rule.port !== undefined && rule.host === undefined) {
    throw new ShadowboxError(
      ErrorCodes.PolicyInvalid,
      'port_without_host',
      `${at}.port: a port narrows a host; give the host too`,
      { field: `${at}.port`, port: rule.port },
    );
  }
}

/** A stored rule as the protocol shows it (without bookkeeping fields). */
export function publicRule(r: StoredRule): Rule {
  const { addedBy: _by, addedAt: _at, ...rule } = r;
  return rule;
}
