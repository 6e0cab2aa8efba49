import { posix } from 'node:path';
import semver from 'semver';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { ONCE } from '../state/index.js';

// Every schema here is built on first use (lazySchema): a daemon's start reads no manifest.
const sha256 = lazySchema(() => z.string().regex(/^[0-9a-f]{64}$/, 'lowercase hex sha256'));
const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** True when `p` is a relative, normalized POSIX path with no `..`, `.`, empty or NUL component. */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 1024 || p.includes('\0') || p.includes('\\')) return false;
  if (p.startsWith('/') || posix.normalize(p) !== p) return false;
  return p.split('/').every((c) => c !== '' && c !== '.' && c !== '..');
}

/** Throws `invalid_path` unless `p` is a safe relative bundle path. */
export function assertSafeRelativePath(p: string): void {
  if (!isSafeRelativePath(p))
    throw new ShadowboxError(
      ErrorCodes.BundleVerificationFailed,
      'invalid_path',
      `bundle path ${JSON.stringify(p)} is not a normalized relative path`,
      { path: p },
    );
}

const relPath = lazySchema(() => z.string().refine(isSafeRelativePath, 'normalized relative path without ..'));

/** One payload file: path under `files/`, size and SHA-256. */
export const ManifestFileSchema = lazySchema(() =>
  z.object({ path: relPath(), size: z.number().int().nonnegative(), sha256: sha256() }).strict(),
);

/** A runnable module: a name the runner selects (`command`) and the file it runs. */
export const ManifestEntrySchema = lazySchema(() =>
  z
    .object({
      name: z.string().regex(NAME),
      path: relPath(),
      description: z.string().optional(),
      env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()).optional(),
    })
    .strict(),
);

/** How a tool input becomes argv: a literal (optionally only when a boolean field is true) or a field's value. */
export const ArgvItemSchema = lazySchema(() =>
  z.union([
    z.object({ literal: z.string(), when: z.string().optional() }).strict(),
    z
      .object({
        arg: z.string(),
        optional: z.boolean().optional(),
        default: z.string().optional(),
        prefix: z.string().optional(),
        workspacePath: z.boolean().optional(),
      })
      .strict(),
  ]),
);

/** A tool the bundle exposes to the agent: JSON Schema input plus the argv/stdin mapping. */
export const ManifestToolSchema = lazySchema(() =>
  z
    .object({
      name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
      description: z.string().min(1),
      entry: z.string().regex(NAME),
      kind: z.enum(['read', 'edit', 'execute', 'search', 'other']).default('execute'),
      inputSchema: z.record(z.string(), z.unknown()),
      argv: z.array(ArgvItemSchema()),
      stdin: z.object({ arg: z.string() }).strict().optional(),
    })
    .strict(),
);

/** A file-system mount the bundle asks for; the runner and policy decide what it really gets. */
export const MountSchema = lazySchema(() =>
  z
    .object({
      guest: z.string().regex(/^\/[A-Za-z0-9._/-]*$/),
      source: z.enum(['workspace', 'tmp', 'bundle']),
      access: z.enum(['ro', 'rw']),
    })
    .strict(),
);

export const CapabilitiesSchema = lazySchema(() =>
  z
    .object({
      fs: z.array(MountSchema()).default([]),
      netFetch: z
        .object({ allow: z.array(z.string()) })
        .strict()
        .nullable()
        .default(null),
    })
    .strict(),
);

export const LimitsSchema = lazySchema(() =>
  z
    .object({
      memoryMb: z.number().int().positive(),
      timeoutMs: z.number().int().positive(),
      maxOutputBytes: z.number().int().positive(),
      fuel: z.number().int().positive().optional(),
    })
    .strict(),
);

export const ProvenanceSchema = lazySchema(() =>
  z
    .object({
      sourceDateEpoch: z.number().int().nonnegative(),
      recipeSha256: sha256(),
      sources: z.array(
        z
          .object({
            name: z.string(),
            version: z.string(),
            files: z.array(z.object({ name: z.string(), sha256: sha256() })),
          })
          .strict(),
      ),
      toolchain: z.record(z.string(), z.string()),
      flags: z.array(z.string()).default([]),
    })
    .strict(),
);

/** manifest.json: everything a verifier and a runner need, signed as its RFC 8785 canonical bytes. */
export const ManifestSchema = lazySchema(() =>
  z
    .object({
      schema: z.literal('shadowbox.bundle/v1'),
      name: z.string().regex(NAME),
      version: z.string().refine((v) => semver.valid(v) === v, 'semver'),
      description: z.string(),
      license: z.string().optional(),
      entries: z.array(ManifestEntrySchema()).min(1),
      files: z.array(ManifestFileSchema()).min(1),
      capabilities: CapabilitiesSchema(),
      limits: LimitsSchema(),
      tools: z.array(ManifestToolSchema()).default([]),
      provenance: ProvenanceSchema(),
    })
    .strict(),
);

export type Manifest = z.infer<ReturnType<typeof ManifestSchema>>;
export type ManifestFile = z.infer<ReturnType<typeof ManifestFileSchema>>;
export type ManifestTool = z.infer<ReturnType<typeof ManifestToolSchema>>;
export type ArgvItem = z.infer<ReturnType<typeof ArgvItemSchema>>;

/** The parts of a manifest that listings and mix-and-match checks read without full validation. */
export const ManifestPeekSchema = lazySchema(() =>
  z.object({
    name: z.string().optional(),
    version: z.string().optional(),
    description: z.string().optional(),
    files: z.array(z.object({ path: z.unknown().optional(), sha256: z.string().optional() })).optional(),
    tools: z.array(z.object({ name: z.string() })).optional(),
  }),
);
export type ManifestPeek = z.infer<ReturnType<typeof ManifestPeekSchema>>;

/** Reads those parts of an unverified manifest value (empty when it is not even that shape). */
export function peekManifest(value: unknown): ManifestPeek {
  const r = ManifestPeekSchema().safeParse(value, ONCE);
  return r.success ? r.data : {};
}

/** Parses untrusted manifest JSON; refuses unsafe or duplicate paths and dangling entries/tools. */
export function parseManifest(value: unknown): Manifest {
  // Unsafe paths are a verification refusal (invalid_path), not just a schema error.
  for (const f of peekManifest(value).files ?? []) {
    if (typeof f.path === 'string') assertSafeRelativePath(f.path);
  }
  const r = ManifestSchema().safeParse(value, ONCE);
  if (!r.success)
    throw new ShadowboxError(
      ErrorCodes.BundleInvalid,
      'manifest_invalid',
      `manifest.json is invalid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      { issues: r.error.issues.slice(0, 10) },
    );
  const m = r.data;
  const seen = new Set<string>();
  for (const f of m.files) {
    const key = f.path.toLowerCase();
    if (seen.has(key))
      throw new ShadowboxError(
        ErrorCodes.BundleVerificationFailed,
        'invalid_path',
        `duplicate path ${f.path} in manifest`,
        { path: f.path },
      );
    seen.add(key);
  }
  // A file may not also be a directory of another file (a/b and a/b/c).
  for (const f of m.files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      if (seen.has(parts.slice(0, i).join('/').toLowerCase()))
        throw new ShadowboxError(
          ErrorCodes.BundleVerificationFailed,
          'invalid_path',
          `path ${f.path} nests under a file`,
          { path: f.path },
        );
    }
  }
  const entryNames = new Set(m.entries.map((e) => e.name));
  for (const e of m.entries) {
    if (!seen.has(e.path.toLowerCase()))
      throw new ShadowboxError(
        ErrorCodes.BundleInvalid,
        'manifest_invalid',
        `entry ${e.name} names missing file ${e.path}`,
      );
  }
  for (const t of m.tools) {
    if (!entryNames.has(t.entry))
      throw new ShadowboxError(
        ErrorCodes.BundleInvalid,
        'manifest_invalid',
        `tool ${t.name} names unknown entry ${t.entry}`,
      );
  }
  return m;
}
