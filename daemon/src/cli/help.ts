import type { CommandSpec } from './specs.js';

/** How a model is chosen, for the top help (the same rules wiring.ts applies). */
const MODEL_HELP = [
  'Choosing a model:',
  '  --model PROVIDER/MODEL on run, chat and demo (/model in chat), e.g. openai/gpt-4o-mini, anthropic/claude-sonnet-4-5,',
  '  or a provider of config.json such as ollama/llama3.1. Default: $SHADOWBOX_MODEL, else "model" in config.json, else',
  '  anthropic/claude-sonnet-4-5 when only ANTHROPIC_API_KEY is set, else openai/gpt-4o-mini.',
  '  Local servers: OPENAI_BASE_URL=http://127.0.0.1:11434/v1 shadowbox run --model openai/llama3.1 "…"',
  '  The daemon reads keys and base URLs when it starts; after changing them run `shadowbox stop` (the next',
  '  command starts it again with your environment). docs/providers.md has the details.',
];

/** `shadowbox --help`: every command with its summary, how to choose a model, where state lives. */
export function topHelp(commands: Record<string, CommandSpec>): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length));
  return [
    'usage: shadowbox <command> [options]     shadowbox help <command> | shadowbox <command> --help',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    ...MODEL_HELP,
    '',
    'State lives in $SHADOWBOX_STATE_DIR (default ~/.local/state/shadowbox); the socket at $SHADOWBOX_SOCKET when set.',
  ].join('\n');
}

/** `shadowbox help CMD` / `shadowbox CMD --help`: usage, options, notes and examples of one command. */
export function commandHelp(name: string, c: CommandSpec): string {
  const opts = Object.entries(c.options).map(([k, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${k}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}${o.multiple ? ' …' : ''}`;
    return [flag, o.help] as const;
  });
  opts.push(['-h, --help', 'this help']);
  const width = Math.max(...opts.map(([f]) => f.length));
  return [
    ...c.usage.map((u, i) => `${i === 0 ? 'usage:' : '      '} shadowbox ${u}`),
    '',
    `${name}: ${c.summary}`,
    '',
    'options:',
    ...opts.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`),
    ...(c.notes?.length ? ['', ...c.notes] : []),
    '',
    'examples:',
    ...c.examples.map((e) => `  ${e}`),
  ].join('\n');
}

/** Does argv ask for help? Options before `--` only; a pass-through command (python) only as its first argument. */
export function wantsHelp(argv: string[], passThrough = false): boolean {
  if (passThrough) return argv[0] === '--help' || argv[0] === '-h';
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}
