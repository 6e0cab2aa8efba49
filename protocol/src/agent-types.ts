import { z } from 'zod';
import { lazySchema } from './define.js';

/** One checklist item of the agent's plan (the `plan` tool; ACP `plan` entries). */
export const PlanItem = lazySchema(() =>
  z.object({
    content: z.string().min(1).max(500).describe('What the step does, in one line.'),
    status: z.enum(['pending', 'in_progress', 'done']),
  }),
);
export type PlanItem = z.infer<ReturnType<typeof PlanItem>>;

/** Image media types a prompt may carry (what both the OpenAI and the Anthropic wire formats accept). */
export const ImageMimeType = lazySchema(() => z.enum(['image/png', 'image/jpeg', 'image/gif', 'image/webp']));
export type ImageMimeType = z.infer<ReturnType<typeof ImageMimeType>>;

/** Largest image a prompt may carry: 5 MiB of bytes (Anthropic's per-image limit), as base64. */
export const MAX_IMAGE_BASE64_CHARS = Math.ceil((5 * 1024 * 1024) / 3) * 4;

/** An image block of a prompt (ACP `image` content, a pasted image on the web page, an image path in the terminal). */
export const ImageBlock = lazySchema(() =>
  z.object({
    mimeType: ImageMimeType(),
    data: z
      .string()
      .min(1)
      .max(MAX_IMAGE_BASE64_CHARS)
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64')
      .describe('The image bytes, base64 (at most 5 MiB decoded).'),
    name: z.string().max(300).optional().describe('Where it came from (a file name), shown by clients.'),
  }),
);
export type ImageBlock = z.infer<ReturnType<typeof ImageBlock>>;

/** Token usage (input includes cached input) and the estimated cost where the model's prices are configured. */
export const Usage = lazySchema(() =>
  z.object({
    inputTokens: z.number().int().nonnegative().describe('Input tokens, cached ones included.'),
    outputTokens: z.number().int().nonnegative(),
    cachedInputTokens: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe('Input tokens read from the provider’s prompt cache (OpenAI cached_tokens, Anthropic cache reads).'),
    cacheWriteTokens: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('Input tokens written to the prompt cache (Anthropic cache_creation_input_tokens).'),
    costUsd: z
      .number()
      .nonnegative()
      .optional()
      .describe('Estimated cost in US dollars, from config.json `prices`; absent when the model has no prices.'),
  }),
);
export type Usage = z.infer<ReturnType<typeof Usage>>;

/** An instruction file in effect for a session (AGENTS.md, CLAUDE.md, the user-level file). */
export const InstructionFile = lazySchema(() =>
  z.object({
    path: z.string().describe('Workspace-relative path, or the absolute path of the user-level file.'),
    scope: z.enum(['user', 'workspace']),
    bytes: z.number().int().nonnegative(),
    truncated: z.boolean().describe('The file was longer than the cap; the model saw its first part.'),
    sha256: z.string().describe('Digest of the text the model was given.'),
  }),
);
export type InstructionFile = z.infer<ReturnType<typeof InstructionFile>>;
