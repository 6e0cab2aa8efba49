// Subcommands of capabilities beyond the lifecycle ones; each registers itself here.
import { registerCommand } from './main.js';
import { daemonCommand } from './context.js';
import { VERSION } from '../version.js';

registerCommand(
  'acp',
  'speak the Agent Client Protocol on stdio for an editor (Zed, JetBrains, Neovim)',
  async () => async (io, argv) =>
    (await import('@shadowbox/client/acp')).acpCommand(io, argv, daemonCommand(), VERSION),
);
registerCommand(
  'lsp',
  'a language server on stdio: pending agent changes as diagnostics and code actions in any LSP editor',
  async () => async (io, argv) =>
    (await import('@shadowbox/client/lsp')).lspCommand(io, argv, daemonCommand(), VERSION),
);
registerCommand(
  'review',
  'show pending shadow changes with hunk ids: review [--workspace DIR] [--session ID]',
  async () => (await import('./review-commands.js')).reviewCommand,
);
registerCommand(
  'accept',
  'write accepted changes to your files: accept [FILE[#HUNK] ...] [--force]',
  async () => (await import('./review-commands.js')).acceptCommand,
);
registerCommand(
  'reject',
  'drop pending changes: reject [FILE[#HUNK] ...]',
  async () => (await import('./review-commands.js')).rejectCommand,
);
registerCommand(
  'undo',
  'undo the last accept (refused if you edited the files since)',
  async () => (await import('./review-commands.js')).undoCommand,
);
registerCommand(
  'shadow',
  'shadow export --branch NAME: the shadow commits as a branch in your repo',
  async () => (await import('./review-commands.js')).shadowCommand,
);
registerCommand(
  'audit',
  'show or verify the audit log: audit show|verify [--workspace DIR] [--session ID] [--tool T]',
  async () => (await import('./audit-commands.js')).auditCommand,
);
registerCommand(
  'policy',
  'project permission rules: policy list | allow|ask|deny --tool/--kind/--path/--host | remove ID',
  async () => (await import('./audit-commands.js')).policyCommand,
);
registerCommand(
  'python',
  'sandboxed CPython (WASI) on the current directory: python [-c CODE | FILE] [ARGS]',
  async () => (await import('./tool-commands.js')).pythonCommand,
);
registerCommand(
  'wasi',
  'run a bundle in the WASI sandbox: wasi run BUNDLE -- ARGS',
  async () => (await import('./tool-commands.js')).wasiCommand,
);
registerCommand(
  'chat',
  'interactive agent session in this terminal: chat [--workspace DIR] [--model M] [--session ID]',
  async () => (await import('@shadowbox/terminal')).chatCommand,
);
registerCommand(
  'attach',
  'follow a live session from another terminal: attach [ID] [--drive]',
  async () => (await import('@shadowbox/terminal')).attachCommand,
);
registerCommand(
  'bundles',
  'signed WASI bundles: bundles list|verify|install|trust|build|sign|serve',
  async () => (await import('./bundles-commands.js')).bundlesCommand,
);
registerCommand(
  'web',
  'print (and with --open, open) the web client URL with its access token: web [--open]',
  async () => (await import('./web-command.js')).webCommand,
);
registerCommand(
  'demo',
  'one prompt end to end on a throw-away project: edit in the shadow, sandboxed python, review, accept, audit',
  async () => (await import('./demo-command.js')).demoCommand,
);
