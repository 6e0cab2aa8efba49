import path from 'node:path';
import picomatch from 'picomatch';
import type { PolicyRule } from '@shadowbox/protocol';
import { pathGlobOptions } from '../glob-base.js';
import { canonicalHost, hostMatches, hostText } from '../net/index.js';
import type { ToolKind, ToolTarget } from '../tools/index.js';
import { matchCommand, simpleCommands } from './command.js';

type Rule = PolicyRule;

// Compiled matchers are cached by pattern: decide() runs on every tool call.
const cache = new Map<string, (s: string) => boolean>();
function matcher(key: string, glob: string, options: picomatch.PicomatchOptions): (s: string) => boolean {
  let m = cache.get(key);
  if (!m) {
    if (cache.size > 10_000) cache.clear();
    m = picomatch(glob, options);
    cache.set(key, m);
  }
  return m;
}

/** Tool-name glob ("grep", "mcp__*"). */
export function matchTool(glob: string, tool: string): boolean {
  return glob === tool || matcher(`t\0${glob}`, glob, {})(tool);
}

/**
 * Path glob against a normalized workspace-relative path; dotfiles count (a deny on `src/**` covers `src/.env`), and
 * so do names holding a line break (`src/a\nb`: pathGlobOptions).
 */
export function matchPath(glob: string, rel: string, options: { nocase?: boolean } = {}): boolean {
  return matcher(`p\0${options.nocase ? 'i' : ''}\0${glob}`, glob, pathGlobOptions(options.nocase ?? false))(rel);
}

/**
 * Host pattern against a call's host, both in canonical form (net's canonicalHost): an exact host, an IP
 * address in any notation (`127.1`, `[::ffff:127.0.0.1]` and `127.0.0.1` are one address), or `*.domain`
 * (any subdomain of domain, not domain itself). Case-insensitive, IDNA-aware, trailing dots ignored.
 */
export function matchHost(pattern: string, host: string): boolean {
  const h = canonicalHost(host);
  return h !== null && hostMatches(pattern, h);
}

/** Whether a host pattern has an accepted shape: a host name, an IP literal (any notation) or `*.domain`. */
export function isValidHostPattern(pattern: string): boolean {
  if (pattern.startsWith('*.')) return canonicalHost(pattern.slice(2))?.kind === 'name';
  return canonicalHost(pattern) !== null;
}

/** Whether an allow rule names exactly these hosts (no wildcard, one canonical host) and this port. */
export function namesExactly(rule: Rule, hosts: string[], port: number | undefined): boolean {
  if (rule.host === undefined || rule.host.startsWith('*.') || rule.port === undefined || rule.port !== port)
    return false;
  const p = canonicalHost(rule.host);
  return (
    p !== null &&
    hosts.length > 0 &&
    hosts.every((h) => {
      const c = canonicalHost(h);
      return c !== null && hostText(c) === hostText(p) && c.kind === p.kind;
    })
  );
}

/**
 * A target path as the rules see it: POSIX, workspace-relative, no `./`, root as `.`.
 * Returns null for a path that leaves the workspace (absolute or `..`): the policy refuses those outright.
 */
export function normalizeTargetPath(p: string): string | null {
  const n = path.posix.normalize(p.replaceAll('\\', '/'));
  if (n.startsWith('/') || n === '..' || n.startsWith('../') || /^[a-z]:/i.test(n)) return null;
  return n.replace(/^(\.\/)+/, '') || '.';
}

/**
 * Whether a rule matches a call. Every field the rule sets must match. For paths and hosts an
 * allow rule must cover every target (a rule for `src/**` does not allow a move out to `/etc`-like
 * places), while deny and ask rules apply as soon as any target matches (a move out of
 * `secrets/**` is still a touch of `secrets/**`). A rule with a path (host) never matches a call
 * without paths (hosts).
 */
export function ruleMatches(
  rule: Rule,
  call: {
    tool: string;
    kind: ToolKind;
    paths: string[];
    hosts: string[];
    port?: number;
    /** A host command's simple commands (simpleCommands), when the call is one. */
    commands?: string[];
    network?: boolean;
  },
): boolean {
  if (rule.tool !== undefined && !matchTool(rule.tool, call.tool)) return false;
  if (rule.kind !== undefined && rule.kind !== call.kind) return false;
  const some = rule.action !== 'allow';
  if (rule.path !== undefined) {
    const glob = rule.path;
    if (call.paths.length === 0) return false;
    const test = (p: string) => matchPath(glob, p);
    if (!(some ? call.paths.some(test) : call.paths.every(test))) return false;
  }
  if (rule.host !== undefined) {
    const pattern = rule.host;
    if (call.hosts.length === 0) return false;
    const test = (h: string) => matchHost(pattern, h);
    if (!(some ? call.hosts.some(test) : call.hosts.every(test))) return false;
  }
  if (rule.port !== undefined && rule.port !== call.port) return false;
  if (rule.command !== undefined) {
    const glob = rule.command;
    const cmds = call.commands ?? [];
    if (cmds.length === 0) return false;
    const test = (c: string) => matchCommand(glob, c);
    if (!(some ? cmds.some(test) : cmds.every(test))) return false;
  }
  if (rule.network !== undefined && rule.network !== (call.network ?? false)) return false;
  return true;
}

/** Human-readable id of a rule, e.g. "project:deny tool=write_file path=secrets/**". */
export function describeRule(source: string, rule: Rule): string {
  const fields = (['tool', 'kind', 'path', 'host', 'port', 'command', 'network'] as const)
    .filter((k) => rule[k] !== undefined)
    .map((k) => (k === 'command' ? `command=${JSON.stringify(rule[k])}` : `${k}=${String(rule[k])}`));
  return `${source}:${rule.action}${fields.length ? ' ' + fields.join(' ') : ' (everything)'}`;
}

/** Escapes glob syntax so a literal tool name can be stored as a rule's `tool`. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]{}()!+@\\|]/g, (c) => `\\${c}`);
}

/** Plain lists of the call's targets: paths normalized (null entries = outside the workspace), hosts canonical. */
export function targetsOf(target: ToolTarget): {
  paths: (string | null)[];
  hosts: string[];
  port?: number;
  commands?: string[];
  network?: boolean;
} {
  const hosts = (target.hosts ?? []).map((h) => {
    const c = canonicalHost(h);
    return c ? hostText(c) : h.toLowerCase();
  });
  return {
    paths: (target.paths ?? []).map(normalizeTargetPath),
    hosts,
    ...(target.port !== undefined ? { port: target.port } : {}),
    ...(target.command !== undefined ? { commands: simpleCommands(target.command) } : {}),
    ...(target.network !== undefined ? { network: target.network } : {}),
  };
}
