import { z } from 'zod';
import { defineRequest, lazySchema } from './define.js';

export const BundleSummary = lazySchema(() =>
  z.object({
    name: z.string(),
    version: z.string(),
    description: z.string(),
    manifestSha256: z.string(),
    tools: z.array(z.string()),
    installed: z.boolean(),
    source: z.string().describe('Where it came from: local build output, a mirror URL, or the store.'),
  }),
);
export type BundleSummary = z.infer<ReturnType<typeof BundleSummary>>;

export const BundlesList = defineRequest({
  method: 'bundles/list',
  direction: 'clientToDaemon',
  doc: 'Lists installed bundles and the ones available from the local official build output.',
  params: () => z.object({}).default({}),
  result: () => z.object({ bundles: z.array(BundleSummary()) }),
});

export const BundlesVerify = defineRequest({
  method: 'bundles/verify',
  direction: 'clientToDaemon',
  doc: 'Verifies a bundle directory or archive on the daemon host against the trust root; refusals are -33700 with data.reason.',
  params: () => z.object({ path: z.string() }),
  result: () =>
    z.object({
      ok: z.literal(true),
      name: z.string(),
      version: z.string(),
      manifestSha256: z.string(),
      keyIds: z.array(z.string()),
    }),
});

export const BundlesInstall = defineRequest({
  method: 'bundles/install',
  direction: 'clientToDaemon',
  doc: "Installs NAME[@VERSION] from a mirror (URL of another daemon's /bundles/ or a static server) or, without one, from the local build output, then the installed @shadowbox/bundle-NAME npm package, then SHADOWBOX_BUNDLE_MIRROR — nothing becomes a store entry before every signature and hash is verified.",
  params: () =>
    z.object({
      name: z.string(),
      version: z.string().optional(),
      mirror: z.string().optional(),
      progressToken: z.union([z.string(), z.number()]).optional(),
    }),
  result: () => BundleSummary(),
});

export const BundlesTrust = defineRequest({
  method: 'bundles/trust',
  direction: 'clientToDaemon',
  doc: "Trusts a developer's public key explicitly (loud warning, recorded in the audit log).",
  params: () => z.object({ keyFile: z.string() }),
  result: () => z.object({ keyId: z.string() }),
});
