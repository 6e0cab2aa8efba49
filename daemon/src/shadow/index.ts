// Shadow workspace: the layered view tools write to, shadow git history, and the review gate (accept/reject/undo/export).
export {
  createShadowService,
  type PendingCounts,
  type ReviewTarget,
  type ShadowService,
  type ShadowServiceDeps,
} from './service.js';
export type { DirEntry, EntryStat, EntryType, WorkspaceView } from './view.js';
export type { ProtectedPathsSource } from './protect.js';
export { createReadOnlyDirView } from './host-dir-view.js';
export type { OverlayLower } from './overlay-lower.js';
