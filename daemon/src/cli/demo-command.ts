import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import {
  AuditQuery,
  AuditVerify,
  BundlesList,
  DaemonStop,
  SessionCreate,
  SessionPrompt,
  ShadowAccept,
  ShadowDiff,
  ToolsList,
} from '@shadowbox/protocol';
import { startModelServer, type ModelServer, type Reply } from '../demo/index.js';
import { type CliIo, connectCli, println } from './context.js';
import { ensureBundle } from './first-use.js';
import { colorsFor, renderDiff } from './review-commands.js';
import { renderPlain } from './run-command.js';
import { optionsOf } from './specs.js';

const STATS_PY = `import csv


def mean(xs):
    return sum(xs) / (len(xs) - 1)


with open("data.csv") as f:
    values = [float(row["value"]) for row in csv.DictReader(f)]

print(f"mean = {mean(values):.2f}")
`;
const DATA_CSV = 'value\n1\n2\n3\n4\n';

/**
 * `shadowbox demo [--model SPEC] [--keep] [--state-dir DIR]`: one prompt end to end on a throw-away
 * git workspace and a throw-away daemon — agent loop, policy, shadow edit, sandboxed CPython, review,
 * accept, audit verification. Without --model the model is the scripted model server (a local HTTP
 * server speaking the OpenAI wire format, driven through the real provider code), labelled as such.
 */
export async function demoCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: optionsOf('demo') });
  const c = colorsFor(io);
  const t0 = performance.now();
  const ms = () => `${Math.round(performance.now() - t0)} ms`;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'shadowbox-demo-'));
  const workspace = path.join(tmp, 'project');
  const stateDir = values['state-dir'] ? path.resolve(io.cwd, values['state-dir']) : path.join(tmp, 'state');
  const scripted = !values.model;
  const model = values.model ?? 'openai/scripted-demo';
  let server: ModelServer | null = null;
  const step = (s: string) => println(io, `\n${c.bold(c.cyan(`▌ ${s}`))} ${c.dim(`(${ms()})`)}`);

  await execa('mkdir', ['-p', workspace]);
  await writeFile(path.join(workspace, 'stats.py'), STATS_PY);
  await writeFile(path.join(workspace, 'data.csv'), DATA_CSV);
  await execa('git', ['init', '-q'], { cwd: workspace });
  await execa('git', ['-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', 'add', '.'], { cwd: workspace });
  await execa('git', ['-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', 'commit', '-qm', 'buggy mean'], {
    cwd: workspace,
  });

  step(`a git project with a bug in stats.py (mean divides by n-1): ${workspace}`);
  const env: NodeJS.ProcessEnv = {
    ...io.env,
    SHADOWBOX_STATE_DIR: stateDir,
    SHADOWBOX_SOCKET: path.join(stateDir, 'daemon.sock'),
  };
  if (scripted) {
    server = await startModelServer();
    Object.assign(env, { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'scripted-demo' });
  }
  const client = await connectCli({ ...io, env }, { name: 'shadowbox-demo', permissions: true });
  let code: number;
  try {
    client.onPermission(async (q) => {
      println(io, c.yellow(`  ? ${q.tool}: ${q.summary} (asked by rule ${q.rule}) → the demo answers allow_once`));
      return { outcome: 'allow_once' };
    });
    const tools = await client.request(ToolsList, {});
    println(io, `daemon up with ${tools.tools.length} tools: ${tools.tools.map((t) => t.name).join(', ')}`);
    // First use installs the sandboxed CPython (from the local build or the @shadowbox/bundle-python package), with progress.
    const pythonBuilt =
      (await ensureBundle(client, io, stateDir, 'python')) &&
      (await client.request(BundlesList, {})).bundles.some((b) => b.name === 'python');
    if (server) {
      println(
        io,
        c.dim(
          'model: SCRIPTED — a local server replays a fixed conversation in the OpenAI wire format (no API key needed); the daemon, tools, sandbox, review and audit are real. Use --model openai/gpt-4o-mini (with OPENAI_API_KEY) for a real model.',
        ),
      );
      server.push(...demoScript(pythonBuilt));
    }

    const session = await client.request(SessionCreate, { workspace, model, mode: 'review' });
    step(`prompt (session ${session.sessionId.slice(0, 8)}, mode review, model ${session.model})`);
    const state = { midLine: false };
    client.onEvent((e) => {
      if (e.sessionId === session.sessionId) renderPlain(e.event, (s) => io.stdout.write(s), state);
    });
    const r = await client.request(SessionPrompt, {
      sessionId: session.sessionId,
      text: 'The average printed by stats.py is wrong. Fix it and check it.',
    });
    await new Promise((res) => setTimeout(res, 20));
    if (r.stopReason !== 'end_turn') {
      println(io, c.red(`the turn ended with ${r.stopReason}${r.error ? `: ${r.error.message}` : ''}`));
      return 1;
    }

    step('your file is untouched; the change waits for review');
    const real = await readFile(path.join(workspace, 'stats.py'), 'utf8');
    println(
      io,
      `stats.py on disk still says: ${real
        .split('\n')
        .find((l) => l.includes('return'))
        ?.trim()}`,
    );
    const diff = await client.request(ShadowDiff, { sessionId: session.sessionId });
    io.stdout.write(renderDiff(diff, c));

    step('accept (what `shadowbox accept` does)');
    const acc = await client.request(ShadowAccept, {
      sessionId: session.sessionId,
      paths: [],
      hunks: [],
      force: false,
    });
    for (const a of acc.applied) println(io, `${c.green('✓')} ${a.action} ${a.path}`);
    const after = await readFile(path.join(workspace, 'stats.py'), 'utf8');
    println(
      io,
      `stats.py on disk now says: ${after
        .split('\n')
        .find((l) => l.includes('return'))
        ?.trim()}`,
    );

    step('the audit log (hash-chained, signed checkpoints)');
    const log = await client.request(AuditQuery, { workspace, limit: 1000 });
    const counts = new Map<string, number>();
    for (const e of log.entries) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
    println(io, [...counts].map(([k, v]) => `${k} ×${v}`).join(', '));
    const v = await client.request(AuditVerify, { workspace });
    println(
      io,
      v.ok
        ? `${c.green('✓')} verified: ${v.entries} entries, ${v.checkpoints} signed checkpoint${v.checkpoints === 1 ? '' : 's'}`
        : c.red(`✗ audit log damaged at ${v.firstBad?.seq}: ${v.firstBad?.reason}`),
    );
    code = v.ok && acc.applied.length > 0 && after !== real ? 0 : 1;
    step(code === 0 ? 'done' : 'something did not work; see above');
    return code;
  } finally {
    await client.request(DaemonStop, {}).catch(() => undefined);
    client.dispose();
    await server?.close();
    if (values.keep) println(io, c.dim(`kept: ${tmp}`));
    else {
      await new Promise((res) => setTimeout(res, 200));
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

/** The scripted model's side of the demo conversation. */
function demoScript(python: boolean): Reply[] {
  return [
    {
      text: ['I will read ', '`stats.py` first.'],
      toolCalls: [{ name: 'read_file', arguments: { path: 'stats.py' } }],
    },
    {
      text: ['`mean()` divides by `len(xs) - 1`, ', 'so every average is too high. Fixing it.'],
      toolCalls: [
        {
          name: 'edit_file',
          arguments: { path: 'stats.py', old_string: 'sum(xs) / (len(xs) - 1)', new_string: 'sum(xs) / len(xs)' },
        },
      ],
    },
    ...(python
      ? [
          {
            text: ['Now I run it with the sandboxed CPython; ', 'it sees my edit, your file is untouched.'],
            toolCalls: [{ name: 'python', arguments: { file: 'stats.py' } }],
          },
        ]
      : []),
    {
      text: [
        python
          ? 'It prints `mean = 2.50`, right for 1, 2, 3, 4. '
          : '(The python bundle is not built here, so I did not run it.) ',
        'The fix waits in the shadow workspace: ',
        'accept it to write `stats.py`.',
      ],
    },
  ];
}
