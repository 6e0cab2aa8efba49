import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  AuditQuery,
  AuditVerify,
  PolicyList,
  PolicySetRules,
  summarizeAuditEntry,
  type PolicyAction,
} from '@shadowbox/protocol';
import { type CliIo, CliError, connectCli, plural, println } from './context.js';
import { colorsFor } from './review-commands.js';
import { optionsOf } from './specs.js';

/** `shadowbox audit show|verify [--strict] [--workspace DIR] [--session ID] [--tool T] [--json]`. */
export async function auditCommand(io: CliIo, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: optionsOf('audit') });
  const workspace = path.resolve(io.cwd, values.workspace ?? '.');
  const client = await connectCli(io, { stateDir: values['state-dir'] });
  const c = colorsFor(io);
  try {
    if (sub === 'show') {
      const r = await client.request(AuditQuery, {
        workspace,
        ...(values.session ? { sessionId: values.session } : {}),
        ...(values.tool ? { tool: values.tool } : {}),
        ...(values.type ? { type: values.type } : {}),
        ...(values.limit ? { limit: Number(values.limit) } : {}),
      });
      if (values.json) for (const e of r.entries) println(io, JSON.stringify(e));
      else
        for (const e of r.entries) {
          const sum = summarizeAuditEntry(e);
          const what =
            sum.outcome === 'error' ? c.red(sum.what) : sum.outcome === 'denied' ? c.yellow(sum.what) : sum.what;
          println(
            io,
            `${c.dim(`#${e.seq} ${e.time}`)} ${c.bold(e.type)} ${what}${sum.details.length ? ` · ${sum.details.join(' · ')}` : ''}${e.sessionId ? c.dim(` session ${e.sessionId.slice(0, 8)}`) : ''}`,
          );
        }
      return 0;
    }
    if (sub === 'verify') {
      const r = await client.request(AuditVerify, { workspace, ...(values.strict ? { strict: true } : {}) });
      const tail = r.unsignedTail
        ? `; ${r.unsignedTail.count} entr${r.unsignedTail.count === 1 ? 'y' : 'ies'} not yet signed (seq ${r.unsignedTail.fromSeq}–${r.unsignedTail.toSeq})`
        : '';
      if (values.json) println(io, JSON.stringify(r));
      else if (r.ok)
        println(
          io,
          `${c.green('✓')} audit log intact: ${plural(r.entries, 'entry', 'entries')}, ${plural(r.checkpoints, 'signed checkpoint')}${tail}`,
        );
      else {
        const who = r.firstBad?.sessionId ? ` (session ${r.firstBad.sessionId} refers to it)` : '';
        println(
          io,
          `${c.red('✗')} audit log damaged: first bad entry ${r.firstBad?.seq ?? '?'} (line ${r.firstBad?.line}): ${r.firstBad?.reason}${who}${tail}`,
        );
        for (const b of r.breaks ?? [])
          println(
            io,
            `  a break was recorded at line ${b.line}: ${b.reason} at seq ${b.seq ?? '?'} (the old segment is kept beside the log)`,
          );
      }
      return r.ok ? 0 : 1;
    }
    throw new CliError(
      'usage: shadowbox audit show|verify [--strict] [--workspace DIR] [--session ID] [--tool T] [--json]',
      2,
    );
  } finally {
    client.dispose();
  }
}

/** `shadowbox policy list | allow | ask | deny | remove` — the project rules, a person's file the agent cannot reach. */
export async function policyCommand(io: CliIo, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: optionsOf('policy') });
  const network = values.network ? true : values['no-network'] ? false : undefined;
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535))
    throw new CliError(`--port must be a port number (1-65535), got ${JSON.stringify(values.port)}`, 2);
  const workspace = path.resolve(io.cwd, values.workspace ?? '.');
  const client = await connectCli(io, { stateDir: values['state-dir'] });
  try {
    if (sub === 'list' || sub === undefined) {
      const r = await client.request(PolicyList, { workspace });
      if (values.json) println(io, JSON.stringify(r));
      else {
        println(io, `mode: ${r.mode}   rules file: ${r.file}`);
        for (const rule of r.rules)
          println(
            io,
            `  ${rule.id ?? '-'}  ${rule.action.padEnd(5)} ${[
              'tool',
              'kind',
              'path',
              'host',
              'port',
              'command',
              'network',
            ]
              .map((k) => {
                const v = rule[k as keyof typeof rule];
                if (v === undefined) return '';
                return k === 'command' ? `command=${JSON.stringify(v)}` : `${k}=${String(v)}`;
              })
              .filter(Boolean)
              .join(' ')}`,
          );
        println(io, `protected: ${r.protected.join(', ')}`);
      }
      return 0;
    }
    if (sub === 'allow' || sub === 'ask' || sub === 'deny') {
      if (!values.tool && !values.kind && !values.path && !values.host && !values.command && network === undefined)
        throw new CliError('name what the rule matches: --tool, --kind, --path, --host, --command or --network', 2);
      const action: PolicyAction = sub;
      const rule = {
        action,
        ...(values.tool ? { tool: values.tool } : {}),
        ...(values.kind ? { kind: values.kind as 'read' } : {}),
        ...(values.path ? { path: values.path } : {}),
        ...(values.host ? { host: values.host } : {}),
        ...(port !== undefined ? { port } : {}),
        ...(values.command ? { command: values.command } : {}),
        ...(network !== undefined ? { network } : {}),
      };
      const r = await client.request(PolicySetRules, { workspace, add: [rule], remove: [] });
      println(io, `added; ${plural(r.rules.length, 'project rule')}`);
      return 0;
    }
    if (sub === 'remove') {
      if (positionals.length === 0) throw new CliError('give the rule ids to remove (see shadowbox policy list)', 2);
      const r = await client.request(PolicySetRules, { workspace, add: [], remove: positionals });
      println(io, `removed; ${plural(r.rules.length, 'project rule')} left`);
      return 0;
    }
    throw new CliError(
      'usage: shadowbox policy list | allow|ask|deny --tool T --kind K --path GLOB --host H [--port N] --command GLOB [--network|--no-network] | remove ID...',
      2,
    );
  } finally {
    client.dispose();
  }
}
