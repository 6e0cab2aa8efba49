import { z } from 'zod';
import { defineRequest } from './define.js';

export const AuditEntry = z.object({
  seq: z.number().int(),
  time: z.string(),
  type: z.string(),
  sessionId: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

export const AuditQuery = defineRequest({
  method: 'audit/query',
  direction: 'clientToDaemon',
  doc: "Reads a workspace's audit log with filters (shadowbox audit show).",
  params: z.object({
    workspace: z.string(),
    sessionId: z.string().optional(),
    tool: z.string().optional(),
    type: z.string().optional(),
    limit: z.number().int().positive().max(100_000).default(1000),
  }),
  result: z.object({ entries: z.array(AuditEntry) }),
});

export const AuditVerify = defineRequest({
  method: 'audit/verify',
  direction: 'clientToDaemon',
  doc: "Verifies the hash chain and signed checkpoints of a workspace's audit log; names the first bad entry (edited, deleted, inserted, reordered, truncated tail, torn line).",
  params: z.object({ workspace: z.string() }),
  result: z.object({
    ok: z.boolean(),
    entries: z.number().int(),
    checkpoints: z.number().int(),
    firstBad: z.object({ seq: z.number().int().nullable(), line: z.number().int(), reason: z.string() }).optional(),
  }),
});
