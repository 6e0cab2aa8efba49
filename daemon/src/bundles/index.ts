// Signed bundles: format, trust chain, content-addressed store, mirror. Other capabilities import only this file.
export {
  createBundleService,
  newest,
  REPO_ROOT,
  type BundleService,
  type BundleServiceOptions,
  type BundleSummary,
  type VerifyPathResult,
  type InstallProgress,
  type ProgressSink,
} from './service.js';
export { describeProgress, progressPercent } from './install.js';
export { findBundlePackage } from './context.js';
export type { ClaimedEntry, LoadedBundle, LoadedEntry, LocatedBundle, LocatedEntry } from './load.js';
export {
  ManifestSchema,
  parseManifest,
  isSafeRelativePath,
  type Manifest,
  type ManifestFile,
  type ManifestTool,
  type ArgvItem,
} from './manifest.js';
export { mapToolInput, workspaceGuestPath, type ToolInvocation } from './tool-args.js';
export { serveMirror, type MirrorHandler } from './mirror-server.js';
// Publishing side, used by bundles/scripts (build, sign, keygen) and `shadowbox bundles build|sign`.
export {
  generateKey,
  keyIdOf,
  publicOf,
  sha256Hex,
  canonicalBytes,
  PrivateKeyFileSchema,
  type PrivateKeyFile,
  type PublicKey,
} from './crypto.js';
export {
  publishBundle,
  addBundleSignatures,
  updateChannelIndex,
  readOwnIndex,
  signRoot,
  signValue,
  loadKeyDir,
  bundleArchive,
  writeIfChanged,
  type PublishedBundle,
} from './publish.js';
export { parseRoot, verifyRootRotation, type RootSigned, type RootEnvelope } from './trust.js';
export { parseIndex, type IndexEnvelope, type IndexEntry } from './channel-index.js';
export { writeTar, readTar, type TarEntry } from './tar.js';
export type { BundleRefusalReason } from './trust.js';
