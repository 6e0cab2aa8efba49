// The host command sandbox: the `shell` tool and `shadowbox exec` — bubblewrap over an overlay of the real
// workspace, the session's pending changes and its build cache; what a command writes becomes reviewable
// shadow changes. Other capabilities import only this file.
import path from 'node:path';
import type { AuditSink } from '../audit/index.js';
import type { FetchAuthorizer } from '../net/index.js';
import type { ShadowService } from '../shadow/index.js';
import type { Spawner } from '../spawner/index.js';
import type { Logger } from '../state/index.js';
import type { Tool } from '../tools/index.js';
import type { CacheSummary } from './cache.js';
import { sweepStaleCgroups, type ShellLimits } from './limits.js';
import { findProgram, probeSandbox, type SandboxProbe } from './probe.js';
import { probeKey, readCachedProbe, writeCachedProbe } from './probe-cache.js';
import { ShellSandbox } from './sandbox.js';
import { createShellTool, type ShellToolInput } from './shell-tool.js';

export { DEFAULT_SHELL_LIMITS, type ShellLimits } from './limits.js';
export { probeSandbox, type SandboxProbe } from './probe.js';
export type { CacheSummary } from './cache.js';
export { describeShellRun, ShellToolInput } from './shell-tool.js';
export type { ShellRunInput, ShellRunResult } from './sandbox.js';

/** What the daemon wires: the tool (only where the sandbox can run), what the sandbox found, the build cache summary. */
export interface Shell {
  /** The `shell` tool, or null where the sandbox cannot run (then it is not offered to the model). */
  tool: Tool<ShellToolInput> | null;
  probe: SandboxProbe;
  /** One line for `shadowbox status`: what it runs with, or what is missing. */
  detail(): string;
  ignored(sessionId: string, workspace: string): Promise<CacheSummary>;
  /**
   * Probes again, in the background once the daemon serves and python's start work is done (wiring-ports.ts,
   * recheckShellAfter), when this start reused a kept probe: a change it finds (the sandbox can no longer run)
   * updates `probe` in place, so calls are refused with what is missing and status says so. Does nothing once closed.
   */
  recheck(): Promise<void>;
  /** Ends every running command (daemon stop). */
  close(): void;
}

/** Dependencies: the state dir, the shadow (pending layer), the person's policy for the proxy's hosts, audit, limits. */
export interface ShellDeps {
  stateDir: string;
  shadow: Pick<ShadowService, 'writeOverlayLower'>;
  /** The policy's fetch authorizer for the `shell` tool in a session (net's createFetchPolicy). */
  authorize: (sessionId: string) => FetchAuthorizer;
  audit?: AuditSink;
  logger: Logger;
  limits?: Partial<ShellLimits>;
  env?: NodeJS.ProcessEnv;
  /** What starts each command's bubblewrap (the daemon's spawner process); default: a direct spawn (forks the daemon). */
  spawner?: Spawner;
  /** How the machine is probed (tests give a probe that fails, to check a kept probe is corrected). */
  probeSandbox?: typeof probeSandbox;
}

/** Probes the machine (a real overlay mount and bubblewrap run) and builds the capability. */
export async function createShell(deps: ShellDeps): Promise<Shell> {
  const scratch = path.join(deps.stateDir, 'sandbox-probe');
  const key = probeKey(scratch, deps.env);
  const kept = await readCachedProbe(scratch, key);
  const probeNow = deps.probeSandbox ?? probeSandbox;
  // Fails closed: a probe that throws counts as a sandbox that cannot run (and is not kept).
  const failed = (e: unknown, previous?: SandboxProbe): SandboxProbe => ({
    available: false,
    reason: 'bwrap_failed',
    missing: [
      `the sandbox could not be probed${previous ? ' again' : ''}: ${e instanceof Error ? e.message : String(e)}`,
    ],
    programs: previous?.programs ?? {},
    socat: previous?.socat ?? null,
    cgroup: previous?.cgroup ?? null,
  });
  const probe = kept ?? (await probeNow(scratch, deps.env).catch((e: unknown) => failed(e)));
  if (!kept)
    await writeCachedProbe(scratch, key, probe).catch((e: unknown) =>
      deps.logger.debug(`shell: probe not kept (${String(e)})`),
    );
  if (!probe.available) deps.logger.info(`shell: not offered (${probe.missing.join('; ')})`);
  const swept = await sweepStaleCgroups(probe.cgroup).catch(() => 0);
  if (swept > 0) deps.logger.info(`shell: removed ${swept} cgroup(s) a killed daemon left behind`);
  let closed = false;
  const sandbox = new ShellSandbox({
    stateDir: deps.stateDir,
    probe,
    ...(deps.limits ? { limits: deps.limits } : {}),
    writeOverlayLower: (t, dir, o) => deps.shadow.writeOverlayLower(t, dir, o),
    ...(deps.audit ? { audit: deps.audit } : {}),
    logger: deps.logger,
    git: findProgram('git', deps.env),
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.spawner ? { spawner: deps.spawner } : {}),
  });
  return {
    tool: probe.available ? createShellTool(sandbox, deps.authorize) : null,
    probe,
    detail: () =>
      probe.available
        ? `${probe.bwrapVersion ?? 'bubblewrap'}, overlayfs in a user namespace${probe.socat ? ', network through the proxy (socat)' : ', no network (socat missing)'}${probe.cgroup ? `, cgroup ${probe.cgroup} limits` : ''}`
        : probe.missing.join('; '),
    ignored: (sessionId, workspace) => sandbox.ignored(sessionId, workspace),
    recheck: async () => {
      // Not once closed: a daemon that is stopping starts no more processes.
      if (!kept || closed) return;
      const now = await probeNow(scratch, deps.env).catch((e: unknown) => failed(e, probe));
      if (closed) return;
      if (JSON.stringify(now) === JSON.stringify(probe)) return;
      if (!now.available)
        deps.logger.warn(`shell: the sandbox no longer runs here (${now.missing.join('; ')}); shell calls are refused`);
      // Whatever changed (socat, cgroup, bubblewrap's version too) is what calls and status use from now on.
      for (const k of Object.keys(probe) as (keyof SandboxProbe)[]) if (!(k in now)) delete probe[k];
      Object.assign(probe, now);
      await writeCachedProbe(scratch, key, now).catch(() => undefined);
    },
    close: () => {
      closed = true;
      sandbox.close();
    },
  };
}
