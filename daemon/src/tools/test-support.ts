// Test helpers: fake policy and audit ports, a silent logger, a session context over a view, and a grep search past
// the kernel's argument limit.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEntryInput, AuditSink } from '../audit/sink.js';
import type { ToolCallOutcome } from '../agent/index.js';
import type { PermissionOutcome, PermissionQuestion } from '../sessions/index.js';
import type { WorkspaceView } from '../shadow/view.js';
import type { Logger } from '../state/index.js';
import type { AnyTool } from './define.js';
import type { PolicyDecision, PolicyPort, PolicyQuery, ToolSessionContext } from './ports.js';
import { createToolRuntime } from './runtime.js';
import { FileQueue } from './builtin/file-queue.js';
import { searchWithRg } from './builtin/grep-rg.js';
import type { Spawner } from '../spawner/index.js';

/** A policy that answers with a fixed decision (or a function of the query) and records grants. */
export function fakePolicy(
  decide: PolicyDecision | ((q: PolicyQuery) => PolicyDecision) = { action: 'allow', rule: 'test:allow' },
) {
  const queries: PolicyQuery[] = [];
  const grants: { q: PolicyQuery; scope: 'session' | 'project'; by?: string }[] = [];
  const policy: PolicyPort = {
    decide: async (q) => {
      queries.push(q);
      return typeof decide === 'function' ? decide(q) : decide;
    },
    grant: async (q, scope, by) => {
      grants.push({ q, scope, ...(by ? { by } : {}) });
    },
  };
  return { policy, queries, grants };
}

/** An audit sink that keeps entries in memory. */
export function memoryAudit(): AuditSink & { entries: AuditEntryInput[] } {
  const entries: AuditEntryInput[] = [];
  return { entries, append: async (e) => void entries.push(e) };
}

/** A logger that keeps lines in memory. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  return {
    lines,
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    debug: log('debug'),
    close: async () => undefined,
  };
}

/** A session context over a view; `answer` is what the person says to every question. */
export function sessionContext(
  view: WorkspaceView,
  answer: { outcome: PermissionOutcome; by?: string } = { outcome: 'deny' },
) {
  const questions: PermissionQuestion[] = [];
  const ctx: ToolSessionContext = {
    sessionId: 's1',
    workspace: view.root,
    mode: () => 'review',
    ask: async (q) => {
      questions.push(q);
      return answer;
    },
    view: async () => view,
  };
  return { ctx, questions };
}

/** Calls `tool` over `view` through a runtime whose policy allows everything (input checks and audit as in use). */
export function toolCaller(
  tool: AnyTool,
  view: WorkspaceView,
): (input: unknown, signal?: AbortSignal) => Promise<ToolCallOutcome> {
  const runtime = createToolRuntime({
    tools: [tool],
    policy: fakePolicy().policy,
    audit: memoryAudit(),
    logger: memoryLogger(),
  });
  const agent = runtime.forSession(sessionContext(view).ctx);
  let n = 0;
  return (input, signal = new AbortController().signal) =>
    agent.call({ turnId: 't', callId: `c${++n}`, name: tool.name, input, signal });
}

/**
 * grep's rg search over 2,600 files whose paths (~1,000 bytes each) are past the kernel's argument limit in one run
 * (E2BIG): the tree is made under `root`, every 100th file holds `hit K`. The search runs with `spawner`'s runs
 * (default: direct spawns); the caller checks that it halved its budget and found every line.
 */
export async function searchPastArgMax(root: string, rg: string, spawner?: Spawner) {
  const dir = Array.from({ length: 4 }, (_, i) => `${i}`.repeat(240)).join('/');
  mkdirSync(join(root, dir), { recursive: true });
  const queue = new FileQueue();
  for (let k = 0; k < 2_600; k++) {
    const rel = `${dir}/f${k}.txt`;
    if (k % 100 === 0) writeFileSync(join(root, rel), `hit ${k}\n`);
    queue.push(k, rel);
  }
  queue.close();
  return searchWithRg({
    rg,
    ...(spawner ? { spawner } : {}),
    root,
    queue,
    pattern: 'hit',
    ignoreCase: false,
    max: 5000,
    maxLineChars: 300,
    maxFileBytes: 1 << 20,
    signal: new AbortController().signal,
    sizeOf: () => 10,
    isReal: () => true,
    unchanged: () => true,
    recheck: async (files) => new Set(files.map((f) => f.k)),
    argBytes: 64 << 20,
  }).done;
}
