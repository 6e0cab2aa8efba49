import { z } from 'zod';
import { defineRequest, lazySchema } from './define.js';

export const AuditEntry = lazySchema(() =>
  z.object({
    seq: z.number().int(),
    time: z.string(),
    type: z.string(),
    sessionId: z.string().optional(),
    data: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string(),
    /** HMAC of `hash` under the daemon key: an entry written without the key is told apart before any checkpoint. */
    mac: z.string().optional(),
  }),
);
export type AuditEntry = z.infer<ReturnType<typeof AuditEntry>>;

export const AuditQuery = defineRequest({
  method: 'audit/query',
  direction: 'clientToDaemon',
  doc: "Reads a workspace's audit log with filters (shadowbox audit show).",
  params: () =>
    z.object({
      workspace: z.string(),
      sessionId: z.string().optional(),
      tool: z.string().optional(),
      type: z.string().optional(),
      limit: z.number().int().positive().max(100_000).default(1000),
    }),
  result: () => z.object({ entries: z.array(AuditEntry()) }),
});

export const AuditVerify = defineRequest({
  method: 'audit/verify',
  direction: 'clientToDaemon',
  doc: "Verifies a workspace's audit log: every entry's hash and mac, the hash chain, every signed checkpoint, the signed head, and the sessions' event logs' references to it. Names the first problem (edited, deleted, inserted, reordered, forged, truncated tail, torn line, a recorded break). Entries no signature covers yet are the unsigned tail: reported, and a failure with `strict`.",
  params: () =>
    z.object({
      workspace: z.string(),
      strict: z.boolean().optional().describe('Also fail when entries are not yet covered by a signed checkpoint.'),
    }),
  result: () =>
    z.object({
      ok: z.boolean(),
      entries: z.number().int(),
      checkpoints: z.number().int(),
      firstBad: z
        .object({
          seq: z.number().int().nullable(),
          line: z.number().int(),
          reason: z.string(),
          sessionId: z.string().optional().describe('The session whose event log referred to the missing entry.'),
        })
        .optional(),
      unsignedTail: z
        .object({ count: z.number().int(), fromSeq: z.number().int(), toSeq: z.number().int() })
        .optional()
        .describe('Entries after the newest signed checkpoint (signed at turn end, accept and shutdown).'),
      breaks: z
        .array(z.object({ seq: z.number().int().nullable(), line: z.number().int(), reason: z.string() }))
        .optional()
        .describe(
          'Breaks the writer found and recorded instead of extending the chain (the old segment is kept aside).',
        ),
    }),
});
