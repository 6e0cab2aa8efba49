// `shadowbox doctor`: checks what a fresh install needs, one line per check, each failure with the
// command that fixes it. It reads; it never starts a daemon and never prints a secret (provider keys
// are reported as present or absent only).
import { open, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DaemonStatus } from '@shadowbox/protocol';
import { connectSocket } from '@shadowbox/client';
import { readLock, mkdirAll } from '../state/index.js';
import { type CliIo, println, statePaths } from './context.js';
import { colorsFor } from './review-commands.js';
import { daemonCommand } from './self-command.js';
import { optionsOf } from './specs.js';

/** One check's outcome: `fail` makes doctor exit 1; `warn` is worth knowing; `ok` needs nothing. */
export interface DoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

/** What the checks read, injectable for tests. */
export interface DoctorDeps {
  env: NodeJS.ProcessEnv;
  stateDir: string;
  lockFile: string;
  nodeVersion: string;
  /** The bin's folder: daemon/bin, where the native launcher stands in the bin's place (clients/launcher). */
  binDir: string;
  /** Whether the host command sandbox can run here, and what is missing (the shell capability's own probe). */
  probeShell(): Promise<{ available: boolean; missing: string[]; bwrapVersion?: string }>;
}

const MIN_NODE = [20, 19] as const;
const PROVIDER_KEYS = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'OPENAI_BASE_URL'] as const;
const OFFICIAL = ['python', 'jq', 'sqlite'] as const;

function checkNode(version: string): DoctorCheck {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  return ok
    ? { name: 'node', status: 'ok', detail: `Node ${version}` }
    : {
        name: 'node',
        status: 'fail',
        detail: `Node ${version} is older than ${MIN_NODE.join('.')}`,
        fix: 'install Node ≥ 20.19 (your distribution, nodesource or nvm: nvm install 20)',
      };
}

async function checkWasi(): Promise<DoctorCheck> {
  const { workerEntry } = await import('../wasi/index.js');
  const engine = (globalThis as { WebAssembly?: { Module: new (bytes: Uint8Array) => object } }).WebAssembly;
  try {
    if (!engine) throw new Error('this Node has no WebAssembly');
    // The smallest valid module: the engine compiles WebAssembly here.
    new engine.Module(Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0]));
    const entry = workerEntry();
    return { name: 'wasi sandbox', status: 'ok', detail: `WebAssembly available; sandbox worker ${entry}` };
  } catch (e) {
    return {
      name: 'wasi sandbox',
      status: 'fail',
      detail: (e as Error).message,
      fix: 'reinstall shadowbox (npm i -g shadowbox), or in a checkout run npm run build',
    };
  }
}

async function checkShell(d: DoctorDeps): Promise<DoctorCheck> {
  // The same probe the daemon runs at start: programs, a real overlay in a user namespace, bwrap running `true`.
  const p = await d.probeShell().catch((e: unknown) => ({
    available: false,
    missing: [`the probe failed: ${(e as Error).message}`],
  }));
  if (p.available)
    return {
      name: 'shell sandbox',
      status: 'ok',
      detail: `bubblewrap over an overlay works here${'bwrapVersion' in p && p.bwrapVersion ? ` (${p.bwrapVersion})` : ''}`,
    };
  // Optional: without it the agent has no `shell` tool, everything else works.
  return {
    name: 'shell sandbox',
    status: 'warn',
    detail: `not available, so agents get no shell tool (python and bundles still run in the WASI sandbox): ${p.missing[0] ?? 'unknown'}`,
    fix: p.missing.join('; '),
  };
}

async function checkStateDir(d: DoctorDeps): Promise<DoctorCheck> {
  const probe = path.join(d.stateDir, `.doctor-${process.pid}`);
  try {
    await mkdirAll(d.stateDir, 0o700);
    await writeFile(probe, 'ok', { flag: 'wx', mode: 0o600 });
    await rm(probe, { force: true });
    return { name: 'state dir', status: 'ok', detail: `${d.stateDir} is writable` };
  } catch (e) {
    return {
      name: 'state dir',
      status: 'fail',
      detail: `${d.stateDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      fix: `make it writable (mkdir -p -m 700 ${d.stateDir}) or point SHADOWBOX_STATE_DIR at a writable folder`,
    };
  }
}

async function checkDaemon(d: DoctorDeps): Promise<DoctorCheck> {
  const lock = await readLock(d.lockFile);
  if (!lock)
    return {
      name: 'daemon',
      status: 'ok',
      detail: 'not running (clients start it on demand)',
    };
  try {
    const client = await connectSocket(lock.socketPath ?? path.join(d.stateDir, 'daemon.sock'));
    try {
      await client.initialize({ name: 'shadowbox-doctor', kind: 'cli' }, { events: false });
      const s = await client.request(DaemonStatus, {});
      return { name: 'daemon', status: 'ok', detail: `${s.version} answering (pid ${s.pid})` };
    } finally {
      client.dispose();
    }
  } catch (e) {
    return {
      name: 'daemon',
      status: 'fail',
      detail: `a lock names pid ${lock.pid} but its socket does not answer: ${(e as Error).message}`,
      fix: 'shadowbox stop (or kill that pid), then run any command: the next client starts a fresh daemon',
    };
  }
}

async function checkBundles(d: DoctorDeps): Promise<DoctorCheck[]> {
  const { createBundleService, findBundlePackage } = await import('../bundles/index.js');
  const service = createBundleService({ stateDir: d.stateDir });
  const listed = await service.list().catch(() => []);
  const out: DoctorCheck[] = [];
  for (const name of OFFICIAL) {
    const installed = listed.find((b) => b.name === name && b.installed);
    if (installed) {
      try {
        // load() is the same check a run makes: signatures under the current root, every file's hash.
        const b = await service.load(name, installed.version);
        out.push({ name: `bundle ${name}`, status: 'ok', detail: `${name}@${b.version} verified` });
      } catch (e) {
        const reason = (e as { reason?: string }).reason ?? 'error';
        out.push({
          name: `bundle ${name}`,
          status: 'fail',
          detail: `${name}@${installed.version} refused (${reason}): ${(e as Error).message}`,
          fix: `reinstall it, verified: shadowbox bundles install ${name} (a key revoked since: update shadowbox and its bundle packages)`,
        });
      }
      continue;
    }
    const pkg = findBundlePackage(name);
    const built = listed.find((b) => b.name === name);
    if (pkg || built)
      out.push({
        name: `bundle ${name}`,
        status: 'ok',
        detail: `not installed yet; first use installs it, verified, from ${pkg ? `package ${pkg}` : 'the local build'}`,
      });
    else
      out.push({
        name: `bundle ${name}`,
        status: 'warn',
        detail: 'not installed and no package or build offers it',
        fix: `npm i -g @shadowbox/bundle-${name} (or, in a checkout, bash scripts/setup.sh)`,
      });
  }
  return out;
}

function checkProviderKeys(env: NodeJS.ProcessEnv): DoctorCheck {
  // Presence only: a key's value, length or prefix never reaches the output.
  const present = PROVIDER_KEYS.filter((k) => (env[k] ?? '').trim() !== '');
  return present.length
    ? { name: 'model provider', status: 'ok', detail: `${present.join(', ')} set` }
    : {
        name: 'model provider',
        status: 'warn',
        detail: 'no OPENAI_API_KEY, ANTHROPIC_API_KEY or OPENAI_BASE_URL (shadowbox demo needs none)',
        fix: 'export OPENAI_API_KEY=… (or ANTHROPIC_API_KEY=…, or OPENAI_BASE_URL=http://localhost:11434/v1 for ollama)',
      };
}

/** The first bytes of a file, or null when it cannot be read. */
async function head(file: string, n: number): Promise<Buffer | null> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(n), 0, n, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * The native launcher (clients/launcher): with it, `shadowbox python -c` and `status` answer without starting Node.
 * The release installs it in the bin's place when it runs here (daemon/bin/install-launcher.cjs, an install script);
 * a checkout builds it when a C compiler is present (scripts/build-launcher.mjs).
 */
async function checkLauncher(binDir: string): Promise<DoctorCheck> {
  const name = 'native launcher';
  const bin = path.join(binDir, 'shadowbox');
  const magic = await head(bin, 4);
  if (magic?.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])))
    return { name, status: 'ok', detail: `${bin}: python and status answer without starting Node` };
  const native = path.join(binDir, 'native', `shadowbox-${process.platform}-${process.arch}`);
  if (magic && (await stat(native).catch(() => null)))
    return {
      name,
      status: 'warn',
      detail: 'the install step did not put the native launcher in place (npm ran without install scripts?)',
      fix: `node ${path.join(binDir, 'install-launcher.cjs')} (as the user who installed shadowbox)`,
    };
  if (magic)
    return {
      name,
      status: 'ok',
      detail: `Node bin: this release has no native launcher for ${process.platform}-${process.arch} (python and status start Node)`,
    };
  return {
    name,
    status: 'warn',
    detail: 'no native launcher built here (no C compiler at build time): python and status start Node',
    fix: 'sudo apt-get install gcc libc6-dev && npm run build',
  };
}

/** Runs every check. */
export async function runDoctor(d: DoctorDeps): Promise<DoctorCheck[]> {
  return [
    checkNode(d.nodeVersion),
    await checkLauncher(d.binDir),
    await checkWasi(),
    await checkShell(d),
    await checkStateDir(d),
    await checkDaemon(d),
    ...(await checkBundles(d)),
    checkProviderKeys(d.env),
  ];
}

/** `shadowbox doctor [--json] [--state-dir DIR]`: exit 1 when a check failed. */
export async function doctorCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: optionsOf('doctor') });
  const paths = statePaths(io, values['state-dir']);
  const checks = await runDoctor({
    env: io.env,
    stateDir: paths.stateDir,
    lockFile: paths.lockFile,
    nodeVersion: process.version,
    binDir: path.dirname(daemonCommand()[1] ?? ''),
    probeShell: async () => {
      const { probeSandbox } = await import('../shell/index.js');
      return probeSandbox(paths.stateDir, io.env);
    },
  });
  if (values.json) println(io, JSON.stringify({ checks }));
  else {
    const c = colorsFor(io);
    const mark = { ok: c.green('✓'), warn: c.yellow('!'), fail: c.red('✗') };
    for (const k of checks) {
      println(io, `${mark[k.status]} ${c.bold(k.name)}: ${k.detail}`);
      if (k.fix) println(io, `    fix: ${k.fix}`);
    }
  }
  return checks.some((k) => k.status === 'fail') ? 1 : 0;
}
