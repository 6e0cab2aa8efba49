// What every `shadowbox` subcommand accepts, as data: usage lines, options (each with its help text) and
// examples. `shadowbox CMD --help`, `shadowbox help CMD` and the top help print it; each command parses its
// arguments with `optionsOf(name)` (node:util parseArgs), so an option cannot exist without its help line.

/** One option: parseArgs' type and short letter, the placeholder of its value, and one line of help. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** May be given several times (parseArgs collects an array). */
  multiple?: boolean;
  /** The value's placeholder in help ("DIR", "ID"); string options only. */
  value?: string;
  help: string;
}

/** One subcommand's help. */
export interface CommandSpec {
  summary: string;
  /** Usage lines without the leading "shadowbox ". */
  usage: string[];
  options: Record<string, OptionSpec>;
  examples: string[];
  /** Extra lines printed after the options (subcommands, environment, where output goes). */
  notes?: string[];
  /** Only argv[0] can ask for help: later arguments belong to the program run (python's -h, say). */
  passThrough?: boolean;
}

const stateDir = {
  'state-dir': { type: 'string', value: 'DIR', help: 'state directory (default $SHADOWBOX_STATE_DIR)' },
} as const satisfies Record<string, OptionSpec>;
const json = { json: { type: 'boolean', help: 'print JSON instead of text' } } as const satisfies Record<
  string,
  OptionSpec
>;
const workspace = {
  workspace: { type: 'string', short: 'w', value: 'DIR', help: 'the workspace directory (default: the current one)' },
} as const satisfies Record<string, OptionSpec>;
const target = {
  ...workspace,
  session: {
    type: 'string',
    short: 's',
    value: 'ID',
    help: 'the session (default: the one session of the workspace with pending changes)',
  },
  ...json,
  ...stateDir,
} as const satisfies Record<string, OptionSpec>;
const model = {
  model: {
    type: 'string',
    short: 'm',
    value: 'PROVIDER/MODEL',
    help: 'e.g. openai/gpt-4o-mini, anthropic/claude-sonnet-4-5 (default: see shadowbox --help)',
  },
} as const satisfies Record<string, OptionSpec>;

/** Every subcommand's help, in the order `shadowbox --help` lists them. */
export const specs = {
  chat: {
    summary: 'interactive agent session in this terminal',
    usage: ['chat [--workspace DIR] [--model M] [--session ID | --continue]'],
    options: {
      ...workspace,
      ...model,
      session: { type: 'string', short: 's', value: 'ID', help: 'resume this session as its driver' },
      continue: { type: 'boolean', short: 'c', help: 'resume the latest conversation on the workspace' },
      ...stateDir,
    },
    examples: ['shadowbox chat', 'shadowbox chat --model anthropic/claude-sonnet-4-5', 'shadowbox chat --continue'],
    notes: [
      'Inside: /help lists the slash commands; Ctrl-C cancels a turn; Ctrl-D leaves (the daemon keeps the session).',
    ],
  },
  run: {
    summary: 'run one prompt non-interactively, streamed; exit 0 on end_turn',
    usage: ['run [--workspace DIR] [--model M] [--session ID | --continue] [--json] "PROMPT"'],
    options: {
      ...workspace,
      ...model,
      session: { type: 'string', short: 's', value: 'ID', help: 'send the prompt to this session (continues it)' },
      continue: { type: 'boolean', short: 'c', help: 'continue the latest conversation on the workspace' },
      json: { type: 'boolean', help: 'one session event per line (JSON) on stdout' },
      'max-turns': { type: 'string', value: 'N', help: 'model turns allowed for this prompt (default 25)' },
      mode: { type: 'string', value: 'MODE', help: 'read-only | review (default) | auto' },
      ...stateDir,
    },
    examples: [
      'shadowbox run "fix the failing test"',
      'shadowbox run --continue "now add a test for it"',
      'shadowbox run --json --model openai/gpt-4o-mini "explain main.py" | jq .event.type',
    ],
    notes: ['Exit codes: 0 end_turn, 1 error or another stop reason, 130 cancelled (Ctrl-C).'],
  },
  sessions: {
    summary: 'sessions of the workspace: state, pending changes, title, last activity',
    usage: ['sessions [--workspace DIR] [--all] [--json]'],
    options: {
      ...workspace,
      all: { type: 'boolean', short: 'a', help: 'sessions of every workspace' },
      ...json,
      ...stateDir,
    },
    examples: ['shadowbox sessions', 'shadowbox sessions --all'],
  },
  review: {
    summary: 'pending shadow changes with hunk ids, grouped by session',
    usage: ['review [--workspace DIR] [--session ID] [--include-ignored] [--json]'],
    options: {
      ...target,
      'include-ignored': {
        type: 'boolean',
        help: 'list the build output (node_modules, dist, …) sandboxed commands left in the session’s cache',
      },
    },
    examples: ['shadowbox review', 'shadowbox review --session 3f2a…', 'shadowbox review --include-ignored'],
    notes: [
      'Every session of the workspace with pending changes is shown, with its id. A hunk with several runs of',
      'changes lists them as "lines A-B"; accept or reject one run with FILE#HUNK:A-B. Build output of',
      'shadowbox exec and the shell tool is counted, never reviewed or accepted.',
    ],
  },
  accept: {
    summary: 'write pending changes to your files (3-way merge if you edited them meanwhile)',
    usage: ['accept [FILE | FILE#HUNK | FILE#HUNK:LINES ...] [--session ID] [--force]'],
    options: {
      ...target,
      force: { type: 'boolean', short: 'f', help: "on a conflict, write the agent's version anyway" },
    },
    examples: [
      'shadowbox accept',
      'shadowbox accept src/app.py',
      'shadowbox accept src/app.py#3f2a9c01de',
      'shadowbox accept src/app.py#3f2a9c01de:1-4',
    ],
    notes: [
      'Nothing named: everything pending. Refused (naming them) when several sessions have pending changes:',
      'pick one with --session ID (see shadowbox review).',
    ],
  },
  reject: {
    summary: 'drop pending changes (your files are not touched)',
    usage: ['reject [FILE | FILE#HUNK | FILE#HUNK:LINES ...] [--session ID]'],
    options: target,
    examples: ['shadowbox reject', 'shadowbox reject notes.md', 'shadowbox reject src/app.py#3f2a9c01de:9-12'],
    notes: ['Refused (naming them) when several sessions have pending changes: pick one with --session ID.'],
  },
  undo: {
    summary: 'undo the newest accept (refused if you edited those files since)',
    usage: ['undo [--workspace DIR] [--session ID]'],
    options: {
      ...target,
      session: { type: 'string', short: 's', value: 'ID', help: "undo this session's last accept" },
    },
    examples: ['shadowbox undo'],
    notes: ['Without --session: the newest accept on the workspace, whichever session made it.'],
  },
  shadow: {
    summary: 'export the shadow commits as a branch of your repository',
    usage: ['shadow export --branch NAME [--workspace DIR] [--session ID]'],
    options: { ...target, branch: { type: 'string', short: 'b', value: 'NAME', help: 'the branch to create' } },
    examples: ['shadowbox shadow export --branch agent/fix-tests'],
    notes: ['Only the new branch is written: your working tree, index and HEAD stay as they are.'],
  },
  attach: {
    summary: 'follow a live session from another terminal',
    usage: ['attach [ID] [--drive] [--workspace DIR]'],
    options: {
      drive: { type: 'boolean', help: 'take the driver role (may prompt)' },
      ...workspace,
      ...stateDir,
    },
    examples: ['shadowbox attach', 'shadowbox attach 3f2a… --drive'],
    notes: ['Without an ID: the latest session on the workspace.'],
  },
  python: {
    summary: "sandboxed CPython (WASI) on the current directory, with python3's command line; writes wait for review",
    usage: ['python [--timeout S] [option] ... [-c cmd | -m mod | file | -] [arg] ...'],
    options: {
      timeout: { type: 'string', value: 'S', help: 'wall-clock limit in seconds (up to the configured cap)' },
    },
    examples: [
      "shadowbox python -c 'print(1+1)'",
      'shadowbox python stats.py data.csv',
      'shadowbox python -m json.tool < data.json',
      'shadowbox python --timeout 120 long_job.py',
    ],
    notes: [
      "python3's options (CPython 3.11 in the sandbox):",
      '  -c cmd : program passed in as string',
      '  -m mod : run library module as a script',
      '  -      : read the program from stdin',
      '  -V     : print the Python version number and exit',
      '  -u -B -E -I -s -S -q -b -O -d -v -W arg -X opt : accepted; most have no effect here',
      'The workspace is the current directory ($SHADOWBOX_WORKSPACE overrides it). Files it writes land in the',
      'shadow workspace of a "shadowbox python" session: shadowbox review shows them next to the other sessions.',
    ],
    passThrough: true,
  },
  exec: {
    summary: 'run a command in the host sandbox (bubblewrap) over the shadow workspace; its writes wait for review',
    usage: ['exec [--session ID] [--workspace DIR] [--net] [--timeout S] -- COMMAND [ARGS...]'],
    options: {
      session: {
        type: 'string',
        value: 'ID',
        help: 'run in this session (its pending changes visible); default: this workspace\'s "shadowbox exec" session',
      },
      net: {
        type: 'boolean',
        help: "network through the daemon's proxy (the host rules apply; answered yes for this command)",
      },
      timeout: { type: 'string', value: 'S', help: 'wall-clock limit in seconds (exit 124 when it stops the command)' },
      ...workspace,
      ...stateDir,
    },
    examples: [
      'shadowbox exec -- npm test',
      'shadowbox exec --net -- npm install',
      'shadowbox exec --timeout 600 -- make',
    ],
    notes: [
      "Output streams as the command runs; the exit status is the command's (130 after Ctrl-C, 69 where the",
      'sandbox cannot run: shadowbox status lists what is missing). Files it writes land in the shadow workspace:',
      'shadowbox review shows them next to the other sessions; build output (node_modules, dist, …) stays in a cache.',
    ],
  },
  wasi: {
    summary: 'run a bundle or a local module in the WASI sandbox',
    usage: [
      'wasi run BUNDLE [--command CMD] [--workspace DIR] [--timeout S] -- ARGS...',
      'wasi run FILE.wasm [--dir HOST[:GUEST]]... [--env K=V]... [--workspace DIR] [--timeout S] -- ARGS...',
    ],
    options: {
      command: { type: 'string', value: 'CMD', help: 'one of the bundle’s commands (default: its first)' },
      dir: {
        type: 'string',
        value: 'HOST[:GUEST]',
        multiple: true,
        help: 'FILE.wasm: mount a workspace folder (default guest path /workspace/<its path>)',
      },
      env: { type: 'string', value: 'K=V', multiple: true, help: 'FILE.wasm: an environment variable' },
      timeout: { type: 'string', value: 'S', help: 'wall-clock limit in seconds' },
      ...workspace,
      ...stateDir,
    },
    examples: [
      "shadowbox wasi run jq -- '.name' package.json",
      'shadowbox wasi run sqlite -- :memory: "select 1"',
      'shadowbox wasi run build/tool.wasm --dir data -- --in data/x.csv',
    ],
  },
  web: {
    summary: 'print (and with --open, open) the web client URL with its access token',
    usage: ['web [--open] [--workspace DIR] [--json]'],
    options: {
      open: { type: 'boolean', help: 'open it with $BROWSER or xdg-open' },
      ...json,
      ...workspace,
      ...stateDir,
    },
    examples: ['shadowbox web --open'],
  },
  acp: {
    summary: 'speak the Agent Client Protocol on stdio for an editor (Zed, JetBrains, Neovim)',
    usage: ['acp'],
    options: { ...stateDir },
    examples: ['{ "agent_servers": { "shadowbox": { "command": "shadowbox", "args": ["acp"] } } }   (Zed settings)'],
    notes: ['stdout carries only ACP messages; logs go to stderr. See docs/editors.md.'],
  },
  lsp: {
    summary: 'a language server on stdio: pending agent changes as diagnostics and code actions in any LSP editor',
    usage: ['lsp [--stdio]'],
    options: {
      stdio: { type: 'boolean', help: 'accepted for editors that pass it (stdio is the only transport)' },
      clientProcessId: { type: 'string', value: 'PID', help: 'accepted for editors that pass it' },
      ...stateDir,
    },
    examples: [
      "require('lspconfig.configs').shadowbox = { default_config = { cmd = { 'shadowbox', 'lsp' } } }   (Neovim)",
    ],
    notes: ['See docs/editors.md for Neovim, VS Code, Helix, eglot and Sublime.'],
  },
  audit: {
    summary: 'show or verify the tamper-evident audit log',
    usage: [
      'audit show [--workspace DIR] [--session ID] [--tool T] [--type TYPE] [--limit N] [--json]',
      'audit verify',
    ],
    options: {
      ...workspace,
      session: { type: 'string', value: 'ID', help: 'entries of this session only' },
      tool: { type: 'string', value: 'T', help: 'entries of this tool only' },
      type: { type: 'string', value: 'TYPE', help: 'entries of this type only (tool.call, shadow.accept, …)' },
      limit: { type: 'string', value: 'N', help: 'the last N entries' },
      strict: { type: 'boolean', help: 'verify: entries not yet covered by a signed checkpoint fail too' },
      ...json,
      ...stateDir,
    },
    examples: [
      'shadowbox audit show --limit 20',
      'shadowbox audit show --type shadow.accept',
      'shadowbox audit verify',
    ],
  },
  policy: {
    summary: 'project permission rules (a file the agent cannot reach)',
    usage: [
      'policy list',
      'policy allow|ask|deny [--tool T] [--kind K] [--path GLOB] [--host H [--port N]] [--command GLOB] [--network|--no-network]',
      'policy remove ID...',
    ],
    options: {
      ...workspace,
      tool: { type: 'string', value: 'T', help: 'match this tool (grep, python, mcp__server__tool…)' },
      kind: { type: 'string', value: 'K', help: 'match this kind (read, edit, delete, move, search, execute, fetch)' },
      path: { type: 'string', value: 'GLOB', help: 'match paths (relative to the workspace)' },
      host: { type: 'string', value: 'H', help: 'match a host (exact, or *.domain)' },
      port: { type: 'string', value: 'N', help: 'with --host: match this port only' },
      command: { type: 'string', value: 'GLOB', help: 'match shell commands (e.g. "npm test", "git *")' },
      network: { type: 'boolean', help: 'match shell calls that ask for the network' },
      'no-network': { type: 'boolean', help: 'match shell calls without the network' },
      ...json,
      ...stateDir,
    },
    examples: [
      'shadowbox policy allow --tool grep',
      'shadowbox policy allow --host pypi.org',
      "shadowbox policy allow --command 'npm test'",
      'shadowbox policy list',
    ],
  },
  bundles: {
    summary: 'signed WASI bundles: list, verify, install, trust, build, sign, serve',
    usage: [
      'bundles list | verify PATH | install NAME[@VERSION] [--mirror URL|DIR] | trust KEYFILE | serve',
      'bundles build NAME... [--force] | sign ARGS...',
    ],
    options: {
      mirror: { type: 'string', value: 'URL|DIR', help: "install from another daemon's /bundles/ or a folder" },
      ...json,
      ...stateDir,
    },
    examples: [
      'shadowbox bundles list',
      'shadowbox bundles build python jq sqlite',
      'shadowbox bundles verify bundles/out/jq/1.6.0',
    ],
    notes: [
      'list: installed bundles and what the local build offers; verify: check against the trust root (exit 1 when',
      'refused); install: verify, then store; trust: trust a developer key (audited); build: build official bundles',
      'from their recipes (Debian sources, clang-19 → wasm32-wasi), signed, progress on stderr, cached outputs kept.',
    ],
  },
  status: {
    summary: 'is a daemon running, and what it holds',
    usage: ['status [--json]'],
    options: { ...json, ...stateDir },
    examples: ['shadowbox status'],
    notes: ['Exit 3 when no daemon runs for the state dir.'],
  },
  stop: {
    summary: 'stop the daemon cleanly (the next command starts one with your environment)',
    usage: ['stop'],
    options: { ...stateDir },
    examples: ['shadowbox stop'],
  },
  daemon: {
    summary: 'run the daemon in the foreground (clients start it on demand)',
    usage: ['daemon [--stdio] [--socket PATH] [--no-socket] [--ws-port N] [--no-web] [--max-message-bytes N]'],
    options: {
      stdio: { type: 'boolean', help: 'serve one client on stdin/stdout (LSP framing)' },
      socket: { type: 'string', value: 'PATH', help: 'the Unix socket (default $SHADOWBOX_SOCKET or the state dir)' },
      'no-socket': { type: 'boolean', help: 'no Unix socket' },
      'ws-port': { type: 'string', value: 'N', help: 'loopback HTTP/WebSocket port (0 picks one; default 0)' },
      'no-web': { type: 'boolean', help: 'no HTTP/WebSocket server' },
      'max-message-bytes': { type: 'string', value: 'N', help: 'largest accepted message (default 16 MiB)' },
      ...stateDir,
    },
    examples: ['shadowbox daemon --no-web', 'shadowbox daemon --stdio'],
  },
  doctor: {
    summary: 'check Node, the sandboxes, bundles, the daemon, the state dir and provider keys, with a fix for each',
    usage: ['doctor [--json]'],
    options: {
      json: { type: 'boolean', help: 'the checks as one JSON object ({checks: [{name, status, detail, fix?}]})' },
      ...stateDir,
    },
    examples: ['shadowbox doctor', 'shadowbox doctor --json'],
    notes: [
      'Exit 1 when a check failed; a warning (an optional part missing) keeps exit 0.',
      'Provider keys are reported by name only, never their values; no daemon is started.',
    ],
  },
  demo: {
    summary: 'one prompt end to end on a throw-away project: shadow edit, sandboxed python, review, accept, audit',
    usage: ['demo [--model M] [--keep]'],
    options: {
      ...model,
      keep: { type: 'boolean', help: 'keep the throw-away project and state dir' },
      ...stateDir,
    },
    examples: ['shadowbox demo', 'shadowbox demo --model openai/gpt-4o-mini'],
    notes: ['Without --model the model is a scripted local server (clearly labelled); no key needed.'],
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof specs;

/** parseArgs' view of a command's options: the value types kept, the help dropped. */
export type ParseOptionsOf<O> = {
  [K in keyof O]: O[K] extends { multiple: true }
    ? { type: O[K] extends { type: infer T } ? T : never; short?: string; multiple: true }
    : { type: O[K] extends { type: infer T } ? T : never; short?: string };
};

/** The parseArgs options of a command (its help lines stripped). */
export function optionsOf<N extends CommandName>(name: N): ParseOptionsOf<(typeof specs)[N]['options']> {
  const spec: CommandSpec = specs[name];
  return Object.fromEntries(
    Object.entries(spec.options).map(([k, o]) => [
      k,
      { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
    ]),
  ) as ParseOptionsOf<(typeof specs)[N]['options']>;
}
