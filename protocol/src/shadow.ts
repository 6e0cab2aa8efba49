import { z } from 'zod';
import { defineNotification, defineRequest, lazySchema } from './define.js';

const Target = lazySchema(() =>
  z.object({
    workspace: z
      .string()
      .optional()
      .describe(
        'Workspace directory, when no sessionId is given: the one session of it with pending changes; with none pending, the latest session (shadow/undo: the session that made the newest accept). Several sessions with pending changes are refused (SessionAmbiguous, several_sessions_pending), never guessed.',
      ),
    sessionId: z.string().optional(),
  }),
);

export const FileChange = lazySchema(() => z.enum(['added', 'modified', 'deleted', 'renamed']));
export type FileChange = z.infer<ReturnType<typeof FileChange>>;

export const ShadowStatusResult = lazySchema(() =>
  z.object({
    sessionId: z.string(),
    workspace: z.string(),
    files: z.array(
      z.object({
        path: z.string(),
        change: FileChange(),
        oldPath: z.string().optional(),
        binary: z.boolean(),
        stale: z.boolean().describe('The real file changed since the agent based its edit on it.'),
        hunks: z.number().int(),
        symlink: z
          .string()
          .optional()
          .describe(
            'The path was a symbolic link (to this target) that the change removes or replaces; accept removes the link itself, never what it points to.',
          ),
        link: z
          .string()
          .optional()
          .describe(
            "The agent's version is a symbolic link to this target (a sandboxed command made it); accept creates the link, never writes through it.",
          ),
      }),
    ),
    commits: z.array(z.object({ id: z.string(), summary: z.string(), time: z.string() })),
    undoable: z.number().int(),
    ignored: z
      .object({
        files: z
          .number()
          .int()
          .describe('Files (and links) in the session’s build cache: ignored output commands wrote.'),
        paths: z
          .array(z.object({ path: z.string(), change: z.enum(['written', 'deleted']), files: z.number().int() }))
          .optional()
          .describe('The topmost cached paths (with includeIgnored): never reviewed or accepted.'),
      })
      .optional()
      .describe(
        'Build output (paths .gitignore names, node_modules, dist, build, target, __pycache__, .venv) that sandboxed commands wrote: kept for the session’s later commands, not reviewed.',
      ),
  }),
);
export type ShadowStatusResult = z.infer<ReturnType<typeof ShadowStatusResult>>;

export const Hunk = lazySchema(() =>
  z.object({
    id: z.string().describe('Stable id "path#hash"; survives accepting other hunks.'),
    header: z.string(),
    oldStart: z.number().int(),
    oldLines: z.number().int(),
    newStart: z.number().int(),
    newLines: z.number().int(),
    lines: z.array(z.string()),
  }),
);
export type Hunk = z.infer<ReturnType<typeof Hunk>>;

export const FileDiff = lazySchema(() =>
  z.object({
    path: z.string(),
    oldPath: z.string().optional(),
    change: FileChange(),
    binary: z.boolean(),
    oldMode: z.number().int().optional(),
    newMode: z.number().int().optional(),
    stale: z.boolean(),
    symlink: z
      .string()
      .optional()
      .describe('The path was a symbolic link (to this target) that the change removes or replaces.'),
    link: z.string().optional().describe("The agent's version is a symbolic link to this target."),
    patch: z.string(),
    hunks: z.array(Hunk()),
  }),
);
export type FileDiff = z.infer<ReturnType<typeof FileDiff>>;

const Selection = lazySchema(() =>
  z.object({
    paths: z.array(z.string()).default([]).describe('Whole files to act on.'),
    hunks: z
      .array(z.string())
      .default([])
      .describe(
        'Stable hunk ids ("path#id" as shadow/diff gives them); positions like "path#2" are refused (HunkNotFound, positional_hunk_id). "path#id:LINES" selects only some lines of a hunk: LINES are 1-based positions in the hunk\'s `lines`, as "3" or "2-5", comma-separated ("1-4,9"); the changed lines outside them stay pending (HunkNotFound, bad_line_range when they select no change or fall outside the hunk).',
      ),
  }),
);

export const ShadowStatus = defineRequest({
  method: 'shadow/status',
  direction: 'clientToDaemon',
  doc: "Pending changes of a session's shadow workspace: files, stale marks, shadow commits, how many accepts can be undone.",
  params: () =>
    Target().extend({
      includeIgnored: z.boolean().default(false).describe('Also list the build output in the session’s cache layer.'),
    }),
  result: () => ShadowStatusResult(),
});

export const ShadowDiff = defineRequest({
  method: 'shadow/diff',
  direction: 'clientToDaemon',
  doc: 'Unified diff of the pending changes per file, with stable hunk ids.',
  params: () => Target().extend({ paths: z.array(z.string()).optional() }),
  result: () => z.object({ sessionId: z.string(), files: z.array(FileDiff()) }),
});

export const AcceptResult = lazySchema(() =>
  z.object({
    acceptId: z.string().nullable(),
    applied: z.array(
      z.object({ path: z.string(), action: z.enum(['written', 'deleted', 'merged', 'renamed', 'mode']) }),
    ),
    conflicts: z.array(z.object({ path: z.string(), hunks: z.array(z.string()), conflictText: z.string() })),
  }),
);
export type AcceptResult = z.infer<ReturnType<typeof AcceptResult>>;

export const ShadowAccept = defineRequest({
  method: 'shadow/accept',
  direction: 'clientToDaemon',
  doc: 'Writes accepted changes to the real files (all when the selection is empty, else files / hunks), atomically, with a 3-way merge where the person changed the file meanwhile. Conflicts are reported and nothing is written for them unless force.',
  params: () =>
    Target()
      .extend(Selection().shape)
      .extend({ force: z.boolean().default(false) }),
  result: () => AcceptResult(),
});

export const ShadowReject = defineRequest({
  method: 'shadow/reject',
  direction: 'clientToDaemon',
  doc: 'Drops pending changes (all, files or hunks) from the shadow workspace. Real files are not touched.',
  params: () => Target().extend(Selection().shape),
  result: () => z.object({ rejected: z.array(z.string()) }),
});

export const ShadowUndo = defineRequest({
  method: 'shadow/undo',
  direction: 'clientToDaemon',
  doc: 'Undoes the last accept: restores the exact bytes that were there before it, unless the person edited them since (refused, -33403).',
  params: () => Target(),
  result: () => z.object({ acceptId: z.string(), restored: z.array(z.string()) }),
});

export const ShadowExport = defineRequest({
  method: 'shadow/export',
  direction: 'clientToDaemon',
  doc: "Creates a branch in the person's git repository holding the shadow commits on top of their HEAD (the only operation that writes into their repository; index, HEAD and working tree stay as they are). A workspace that is not a git repository gets the branch in the shadow repository instead (`where: shadow`, `repository` says which).",
  params: () => Target().extend({ branch: z.string().min(1).max(200) }),
  result: () =>
    z.object({
      branch: z.string(),
      commit: z.string(),
      commits: z.number().int(),
      where: z
        .enum(['workspace', 'shadow'])
        .describe(
          "workspace: the person's repository, on top of their HEAD; shadow: the shadow repository (no git repo).",
        ),
      repository: z.string().describe('The git directory holding the branch.'),
    }),
});

export const PendingSession = lazySchema(() =>
  z.object({
    sessionId: z.string(),
    title: z.string(),
    state: z.enum(['idle', 'running', 'waiting_permission']),
    updatedAt: z.string().describe("Time of the session's last event."),
    prompts: z.number().int().describe('Prompts sent in the session (0 for sessions of CLI tool commands).'),
    files: z.number().int().describe('Files (and empty folders) with pending changes.'),
    undoable: z.number().int().describe('Accepts of this session that shadow/undo can take back.'),
    lastAcceptAt: z.string().nullable().describe('Time of the newest of those accepts.'),
  }),
);
export type PendingSession = z.infer<ReturnType<typeof PendingSession>>;

/** `error.data` of SessionAmbiguous (several_sessions_pending): the sessions a person can choose from. */
export const AmbiguousSessionsData = lazySchema(() =>
  z.object({
    reason: z.literal('several_sessions_pending'),
    workspace: z.string(),
    sessions: z.array(z.object({ sessionId: z.string(), title: z.string(), files: z.number().int() })),
  }),
);
export type AmbiguousSessionsData = z.infer<ReturnType<typeof AmbiguousSessionsData>>;

export const ShadowPending = defineRequest({
  method: 'shadow/pending',
  direction: 'clientToDaemon',
  doc: 'Every session of a workspace with its pending-change and undo counts, newest first: what `shadowbox review` and `shadowbox sessions` show, so changes made in another session (a CLI `python` run, a second `run`) never seem to vanish. Sessions whose shadow layer was never written are reported with zeros without opening anything.',
  params: () => z.object({ workspace: z.string().min(1) }),
  result: () =>
    z.object({
      workspace: z.string().describe('Real path of the workspace.'),
      sessions: z.array(PendingSession()),
    }),
});

export const WorkspaceChanged = defineNotification({
  method: 'workspace/changed',
  direction: 'daemonToClient',
  doc: 'The person changed files in a watched workspace; review items touching them are now stale.',
  params: () => z.object({ workspace: z.string(), paths: z.array(z.string()), stale: z.array(z.string()) }),
});

export const ShadowFile = defineRequest({
  method: 'shadow/file',
  direction: 'clientToDaemon',
  doc: 'The text of one file as the person has it (real) and as the agent left it (shadow), for diff views (ACP `diff` content, the web review panel). null where the file does not exist; binary files report binary: true and no text.',
  params: () => Target().extend({ path: z.string().min(1) }),
  result: () =>
    z.object({
      path: z.string(),
      real: z.string().nullable(),
      shadow: z.string().nullable(),
      binary: z.boolean(),
    }),
});

/**
 * The runs of changed lines of a hunk, split at unchanged lines: 1-based positions in `lines`, as a
 * selection "path#id:FROM-TO" takes them. Two fixes a few lines apart share one hunk (context merges
 * them); each run can be accepted or rejected on its own.
 */
export function changeBlocks(lines: readonly string[]): Array<{ from: number; to: number }> {
  const out: Array<{ from: number; to: number }> = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith(' ')) continue;
    const from = i;
    while (i + 1 < lines.length && !lines[i + 1].startsWith(' ')) i++;
    out.push({ from: from + 1, to: i + 1 });
  }
  return out;
}

/** Parses a line selection "3", "2-5" or "1-4,9" into sorted 1-based positions; null when it is not one. */
export function parseLineSelection(spec: string): number[] | null {
  const out = new Set<number>();
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b < a || b - a > 100_000) return null;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out.size ? [...out].sort((x, y) => x - y) : null;
}
