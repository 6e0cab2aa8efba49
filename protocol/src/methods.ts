import type { AnyNotificationDef, AnyRequestDef } from './define.js';
import * as audit from './audit.js';
import * as buffers from './buffers.js';
import * as bundles from './bundles.js';
import * as commands from './commands.js';
import * as lifecycle from './lifecycle.js';
import * as session from './session.js';
import * as shadow from './shadow.js';
import * as tools from './tools.js';

/** Every message of the protocol, in documentation order. The docs generator and the daemon's dispatcher read this list. */
export const allMessages: ReadonlyArray<AnyRequestDef | AnyNotificationDef> = [
  lifecycle.Initialize,
  lifecycle.Initialized,
  lifecycle.Shutdown,
  lifecycle.Exit,
  lifecycle.CancelRequest,
  lifecycle.Progress,
  lifecycle.DaemonStatus,
  lifecycle.DaemonStop,
  session.SessionCreate,
  session.SessionList,
  session.SessionAttach,
  session.SessionDetach,
  session.SessionPrompt,
  session.SessionCancel,
  session.SessionConfigure,
  commands.SessionCommand,
  commands.SessionRewind,
  commands.SessionCompact,
  session.SessionEventNotification,
  session.PermissionRequest,
  session.PermissionRespond,
  buffers.BufferRead,
  tools.ToolsList,
  tools.ToolsCall,
  tools.PolicyList,
  tools.PolicySetRules,
  shadow.ShadowPending,
  shadow.ShadowStatus,
  shadow.ShadowDiff,
  shadow.ShadowAccept,
  shadow.ShadowReject,
  shadow.ShadowUndo,
  shadow.ShadowExport,
  shadow.ShadowFile,
  shadow.WorkspaceChanged,
  audit.AuditQuery,
  audit.AuditVerify,
  bundles.BundlesList,
  bundles.BundlesVerify,
  bundles.BundlesInstall,
  bundles.BundlesTrust,
];
