// The shadowbox subcommands: a summary each and a loader, so `shadowbox status` does not pay for the web
// client, the terminal or WASI. main.ts dispatches on this table; nothing registers itself. This file
// imports no module with work at load time (no protocol, no client): `--help` and `--version` load nothing else.
import { VERSION } from '../version.js';
import type { CliIo } from './context.js';

/** One subcommand: it gets the CLI's io and its own argv, and returns the exit code. */
export type Command = (io: CliIo, argv: string[]) => Promise<number>;

/** Every subcommand by name, in the order `shadowbox --help` lists them. */
export const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  daemon: {
    summary: 'run the daemon (--stdio | --socket PATH | --ws-port N)',
    load: async () => (await import('./daemon-command.js')).daemonCommand,
  },
  status: {
    summary: 'is a daemon running, and what it holds',
    load: async () => (await import('./lifecycle-commands.js')).statusCommand,
  },
  stop: { summary: 'stop the daemon cleanly', load: async () => (await import('./lifecycle-commands.js')).stopCommand },
  run: {
    summary: 'run one prompt non-interactively: run [--workspace DIR] [--model M] [--json] "PROMPT"',
    load: async () => (await import('./run-command.js')).runCommand,
  },
  acp: {
    summary: 'speak the Agent Client Protocol on stdio for an editor (Zed, JetBrains, Neovim)',
    load: async () => async (io, argv) =>
      (await import('@shadowbox/client/acp')).acpCommand(
        io,
        argv,
        (await import('./context.js')).daemonCommand(),
        VERSION,
      ),
  },
  lsp: {
    summary: 'a language server on stdio: pending agent changes as diagnostics and code actions in any LSP editor',
    load: async () => async (io, argv) =>
      (await import('@shadowbox/client/lsp')).lspCommand(
        io,
        argv,
        (await import('./context.js')).daemonCommand(),
        VERSION,
      ),
  },
  review: {
    summary: 'show pending shadow changes with hunk ids: review [--workspace DIR] [--session ID]',
    load: async () => (await import('./review-commands.js')).reviewCommand,
  },
  accept: {
    summary: 'write accepted changes to your files: accept [FILE[#HUNK] ...] [--force]',
    load: async () => (await import('./review-commands.js')).acceptCommand,
  },
  reject: {
    summary: 'drop pending changes: reject [FILE[#HUNK] ...]',
    load: async () => (await import('./review-commands.js')).rejectCommand,
  },
  undo: {
    summary: 'undo the last accept (refused if you edited the files since)',
    load: async () => (await import('./review-commands.js')).undoCommand,
  },
  shadow: {
    summary: 'shadow export --branch NAME: the shadow commits as a branch in your repo',
    load: async () => (await import('./review-commands.js')).shadowCommand,
  },
  audit: {
    summary: 'show or verify the audit log: audit show|verify [--workspace DIR] [--session ID] [--tool T]',
    load: async () => (await import('./audit-commands.js')).auditCommand,
  },
  policy: {
    summary: 'project permission rules: policy list | allow|ask|deny --tool/--kind/--path/--host [--port] | remove ID',
    load: async () => (await import('./audit-commands.js')).policyCommand,
  },
  python: {
    summary:
      'sandboxed CPython (WASI) on the current directory: python [--timeout S] [-c CODE | -m MOD | FILE | -] [ARGS]',
    load: async () => (await import('./tool-commands.js')).pythonCommand,
  },
  exec: {
    summary:
      'run a command in the host sandbox over the shadow workspace: exec [--session ID] [--net] [--timeout S] -- CMD [ARGS]',
    load: async () => (await import('./exec-command.js')).execCommand,
  },
  wasi: {
    summary:
      'run a bundle or a local module in the WASI sandbox: wasi run BUNDLE|FILE.wasm [--dir HOST[:GUEST]] [--env K=V] -- ARGS',
    load: async () => (await import('./tool-commands.js')).wasiCommand,
  },
  chat: {
    summary: 'interactive agent session in this terminal: chat [--workspace DIR] [--model M] [--session ID]',
    load: async () => (await import('@shadowbox/terminal')).chatCommand,
  },
  attach: {
    summary: 'follow a live session from another terminal: attach [ID] [--drive]',
    load: async () => (await import('@shadowbox/terminal')).attachCommand,
  },
  bundles: {
    summary: 'signed WASI bundles: bundles list|verify|install|trust|build|sign|serve',
    load: async () => (await import('./bundles-commands.js')).bundlesCommand,
  },
  web: {
    summary: 'print (and with --open, open) the web client URL with its access token: web [--open]',
    load: async () => (await import('./web-command.js')).webCommand,
  },
  doctor: {
    summary: 'check Node, the sandboxes, bundles, the daemon, the state dir and provider keys, with a fix for each',
    load: async () => (await import('./doctor-command.js')).doctorCommand,
  },
  demo: {
    summary:
      'one prompt end to end on a throw-away project: edit in the shadow, sandboxed python, review, accept, audit',
    load: async () => (await import('./demo-command.js')).demoCommand,
  },
};
