import type { DaemonStatus, ResultOf } from '@shadowbox/protocol';
// node:crypto is loaded on first use, not with this module: a CLI command that never needs it (status, stop) saves
// ~5 ms of loading it.
const crypto = () => process.getBuiltinModule('node:crypto');

type Setting = ResultOf<typeof DaemonStatus>['environment'][number];

/** One model setting this process has and the running daemon does not (or has another value of). */
export interface EnvironmentDrift {
  name: string;
  /** unset: the daemon started without it; different: with another value. */
  kind: 'unset' | 'different';
}

/** The fingerprint daemon/status sends for a secret: first 12 hex digits of its SHA-256 (never the value). */
export function fingerprint(value: string): string {
  return crypto().createHash('sha256').update(value).digest('hex').slice(0, 12);
}

/**
 * The model settings this client's environment sets differently from the daemon's (the daemon reads its
 * environment once, at start, from the command that started it). Settings the client does not set are
 * not drift: the daemon may well have been started from a shell that had them.
 */
export function environmentDrift(daemon: readonly Setting[], env: NodeJS.ProcessEnv): EnvironmentDrift[] {
  const out: EnvironmentDrift[] = [];
  for (const s of daemon) {
    const mine = env[s.name];
    if (!mine) continue;
    if (!s.set) out.push({ name: s.name, kind: 'unset' });
    else if (s.secret ? s.fingerprint !== fingerprint(mine) : s.value !== mine)
      out.push({ name: s.name, kind: 'different' });
  }
  return out;
}

/** One sentence naming the drifted settings, the daemon that holds the others, and how to restart it. */
export function describeDrift(drift: readonly EnvironmentDrift[], pid: number): string | null {
  if (drift.length === 0) return null;
  const unset = drift.filter((d) => d.kind === 'unset').map((d) => d.name);
  const different = drift.filter((d) => d.kind === 'different').map((d) => d.name);
  const how = [
    ...(unset.length ? [`without ${unset.join(', ')}`] : []),
    ...(different.length ? [`with other values of ${different.join(', ')}`] : []),
  ].join(' and ');
  const names = drift.map((d) => d.name).join(', ');
  return `the running daemon (pid ${pid}) does not use this shell's ${names}: it started ${how} and keeps the environment it started with. Run \`shadowbox stop\`; the next command starts a daemon with your environment.`;
}
