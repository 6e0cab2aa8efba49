import { parseArgs } from 'node:util';
import { DaemonStatus, DaemonStop } from '@shadowbox/protocol';
import { connectSocket } from '@shadowbox/client';
import { readLock } from '../state/index.js';
import { type CliIo, CliError, println, statePaths } from './context.js';
import { optionsOf } from './specs.js';

/** `shadowbox status [--json]`: whether a daemon runs for this state dir, and what it holds. */
export async function statusCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: optionsOf('status') });
  const paths = statePaths(io, values['state-dir']);
  const lock = await readLock(paths.lockFile);
  if (!lock) {
    if (values.json) println(io, JSON.stringify({ running: false, stateDir: paths.stateDir }));
    else println(io, `no shadowbox daemon is running for ${paths.stateDir}`);
    return 3;
  }
  const client = await connectSocket(lock.socketPath ?? paths.socketPath);
  try {
    await client.initialize({ name: 'shadowbox-status', kind: 'cli' }, { events: false });
    const s = await client.request(DaemonStatus, {});
    if (values.json) println(io, JSON.stringify({ running: true, ...s }));
    else {
      println(
        io,
        `shadowbox daemon ${s.version} running (pid ${s.pid}, up ${Math.round(s.uptimeMs / 1000)} s, ${(s.rssBytes / 1048576).toFixed(1)} MiB RSS)`,
      );
      println(io, `  state dir: ${s.stateDir}`);
      println(io, `  socket:    ${s.socketPath ?? 'none'}`);
      println(
        io,
        `  web:       ${s.webUrl ?? 'off'}${s.webUrl ? '  (shadowbox web prints a URL with the token)' : ''}`,
      );
      println(io, `  sessions:  ${s.sessions}, clients attached now: ${s.clients.length - 1}`);
      // Which daemon holds which model setting: it read them once, from the command that started it.
      println(io, '  model settings (from the environment the daemon started with; `shadowbox stop` to renew):');
      const width = Math.max(0, ...s.environment.map((e) => e.name.length));
      for (const e of s.environment)
        println(
          io,
          `    ${e.name.padEnd(width)}  ${!e.set ? 'unset' : e.secret ? `set (sha256 ${e.fingerprint ?? '?'}…)` : (e.value ?? '')}`,
        );
      println(io, '  sandboxes:');
      for (const b of s.sandboxes) {
        println(
          io,
          `    ${b.name.padEnd(6)} ${b.available ? 'available' : 'not available'}: ${b.available ? b.detail : ''}`,
        );
        for (const m of b.missing) println(io, `      - ${m}`);
      }
    }
    return 0;
  } finally {
    client.dispose();
  }
}

/** `shadowbox stop`: asks the daemon to stop cleanly and waits until its lock is released. */
export async function stopCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: optionsOf('stop') });
  const paths = statePaths(io, values['state-dir']);
  const lock = await readLock(paths.lockFile);
  if (!lock) {
    println(io, 'no shadowbox daemon is running');
    return 0;
  }
  const client = await connectSocket(lock.socketPath ?? paths.socketPath);
  await client.initialize({ name: 'shadowbox-stop', kind: 'cli' }, { events: false });
  // The daemon may close the link right after answering; a closed link here also means "stopping".
  await Promise.race([client.request(DaemonStop, {}), new Promise<void>((r) => client.onClose(r))]).catch(
    () => undefined,
  );
  client.dispose();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (!(await readLock(paths.lockFile))) {
      println(io, `stopped shadowbox daemon (pid ${lock.pid})`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new CliError(`the daemon (pid ${lock.pid}) did not stop within 10 s`);
}
