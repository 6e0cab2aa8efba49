import { type PolicyList, PolicyRule } from '@shadowbox/protocol';
import type { ResultOf } from '@shadowbox/protocol';
import type { AuditSink } from '../audit/index.js';
import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { Logger } from '../state/index.js';
import {
  DEFAULT_PROTECTED,
  decide,
  grantRulesFor,
  type PolicyDecision,
  type PolicyMode,
  type PolicyQuery,
} from './decide.js';
import { viewWriteProtected } from './view-rules.js';
import {
  checkRule,
  fileStamp,
  loadRulesFile,
  publicRule,
  ruleId,
  rulesFilePath,
  saveRulesFile,
  type RulesFile,
  type StoredRule,
} from './rules-file.js';

type Rule = PolicyRule;

/** The permission policy as the daemon uses it: decisions, remembered answers, the project rules file. */
export interface PolicyService {
  decide(q: PolicyQuery): Promise<PolicyDecision>;
  /** A person answered allow_session / allow_project: remember it (session grants in memory per sessionId; project grants appended to the project rules file). */
  grant(q: PolicyQuery, scope: 'session' | 'project', by?: string): Promise<void>;
  list(workspace: string): Promise<ResultOf<typeof PolicyList>>;
  set(p: { workspace: string; add: Rule[]; remove: string[] }, by: string): Promise<{ rules: Rule[] }>;
  forgetSession(sessionId: string): void;
  /**
   * The globs the workspace view refuses to write for every caller, sandboxed code included: the protected
   * paths, plus the paths of deny rules on edits that name no tool (`viewWriteProtected`). Fails (like
   * `list`) while the rules file is broken, so the view refuses instead of guessing.
   */
  writeProtected(workspace: string): Promise<string[]>;
}

export interface PolicyDeps {
  stateDir: string;
  audit: AuditSink;
  logger: Logger;
  /** Extra protected globs for every workspace (daemon config), on top of `.git/**` and `.shadowbox/**`. */
  protectedPaths?: string[];
  /** The mode policy/list reports (sessions carry their own); default review. */
  defaultMode?: PolicyMode;
}

type Loaded = { stamp: string | null; file: RulesFile } | { stamp: string | null; error: unknown };

/** Creates the policy service over the per-workspace rules files in the state dir. */
export function createPolicy(deps: PolicyDeps): PolicyService {
  const cache = new Map<string, Loaded>();
  const grants = new Map<string, Rule[]>();
  const writes = new Map<string, Promise<unknown>>();
  const baseProtected = [...DEFAULT_PROTECTED, ...(deps.protectedPaths ?? [])];
  // A state dir inside a workspace (unusual, but possible) holds policy and audit files: protect it too.
  const protectedFor = (workspace: string, file: RulesFile) => {
    const rel = path.relative(workspace, deps.stateDir).split(path.sep).join('/');
    const inside = workspace !== '' && rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
    return [...baseProtected, ...(inside ? [`${rel}/**`] : []), ...file.protected];
  };

  // Re-reads the file when its stamp changed (a hand edit applies to the next call).
  async function load(workspace: string): Promise<Loaded> {
    const file = rulesFilePath(deps.stateDir, workspace);
    const stamp = fileStamp(file);
    const hit = cache.get(workspace);
    if (hit && hit.stamp === stamp) return hit;
    let loaded: Loaded;
    try {
      loaded = { stamp, file: await loadRulesFile(file) };
    } catch (error) {
      deps.logger.error(`policy: ${(error as Error).message}`);
      loaded = { stamp, error };
    }
    cache.set(workspace, loaded);
    return loaded;
  }

  async function rulesOrThrow(workspace: string): Promise<RulesFile> {
    const l = await load(workspace);
    if ('error' in l) throw l.error;
    return l.file;
  }

  // Serializes read-modify-write of one workspace's file.
  function edit<T>(workspace: string, fn: (f: RulesFile) => Promise<{ file: RulesFile; result: T }>): Promise<T> {
    const prev = writes.get(workspace) ?? Promise.resolve();
    const run = prev.then(async () => {
      const current = await rulesOrThrow(workspace);
      const { file, result } = await fn(structuredClone(current));
      await saveRulesFile(rulesFilePath(deps.stateDir, workspace), { ...file, workspace });
      cache.delete(workspace);
      return result;
    });
    writes.set(
      workspace,
      run.catch(() => undefined),
    );
    return run;
  }

  function addRules(file: RulesFile, add: Rule[], by: string, now: string): StoredRule[] {
    const added: StoredRule[] = [];
    for (const [i, input] of add.entries()) {
      // The protocol edge validated this already; in-process callers get the same strict check.
      const parsed = PolicyRule().safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = [
          `add.${i}`,
          ...(issue?.path ?? []),
          ...(issue?.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : []),
        ].join('.');
        throw new ShadowboxError(
          ErrorCodes.PolicyInvalid,
          'bad_rule',
          `${field}: ${issue?.message ?? 'invalid rule'}`,
          {
            field,
          },
        );
      }
      const r = parsed.data;
      checkRule(r, `add.${i}`);
      const id = r.id ?? ruleId(r);
      const stored: StoredRule = { ...r, id, addedBy: by, addedAt: now };
      const at = file.rules.findIndex((x) => x.id === id);
      if (at >= 0) file.rules[at] = stored;
      else file.rules.push(stored);
      added.push(stored);
    }
    return added;
  }

  return {
    async decide(q) {
      const l = await load(q.workspace);
      if ('error' in l) return { action: 'deny', rule: 'policy:rules-file-invalid' };
      return decide(q, {
        rules: l.file.rules,
        grants: grants.get(q.sessionId) ?? [],
        protectedPaths: protectedFor(q.workspace, l.file),
      });
    },

    async grant(q, scope, by) {
      const rules = grantRulesFor(q);
      if (scope === 'session') {
        const list = grants.get(q.sessionId) ?? [];
        for (const r of rules) if (!list.some((x) => ruleId(x) === ruleId(r))) list.push(r);
        grants.set(q.sessionId, list);
        await deps.audit.append({
          type: 'policy.grant',
          workspace: q.workspace,
          sessionId: q.sessionId,
          data: { scope, by: by ?? null, tool: q.tool, rules },
        });
        return;
      }
      const added = await edit(q.workspace, async (file) => ({
        file,
        result: addRules(file, rules, by ?? 'permission', new Date().toISOString()),
      }));
      await deps.audit.append({
        type: 'policy.set',
        workspace: q.workspace,
        sessionId: q.sessionId,
        data: { by: by ?? null, source: 'permission', tool: q.tool, added: added.map(publicRule), removed: [] },
      });
    },

    async list(workspace) {
      const file = await rulesOrThrow(workspace);
      return {
        mode: deps.defaultMode ?? 'review',
        rules: file.rules.map(publicRule),
        protected: protectedFor(workspace, file),
        file: rulesFilePath(deps.stateDir, workspace),
      };
    },

    async set(p, by) {
      const result = await edit(p.workspace, async (file) => {
        const unknown = p.remove.filter((id) => !file.rules.some((r) => r.id === id));
        if (unknown.length) {
          throw new ShadowboxError(
            ErrorCodes.PolicyInvalid,
            'unknown_rule_id',
            `no project rule with id ${unknown.join(', ')} (see shadowbox policy list)`,
            { ids: unknown },
          );
        }
        file.rules = file.rules.filter((r) => !p.remove.includes(r.id));
        const added = addRules(file, p.add, by, new Date().toISOString());
        return { file, result: { added, rules: file.rules } };
      });
      await deps.audit.append({
        type: 'policy.set',
        workspace: p.workspace,
        data: {
          by,
          source: 'policy/set',
          added: result.added.map(publicRule),
          removed: p.remove,
          count: result.rules.length,
        },
      });
      return { rules: result.rules.map(publicRule) };
    },

    forgetSession(sessionId) {
      grants.delete(sessionId);
    },

    async writeProtected(workspace) {
      const file = await rulesOrThrow(workspace);
      return [...protectedFor(workspace, file), ...viewWriteProtected(file.rules)];
    },
  };
}
