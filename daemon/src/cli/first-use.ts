// First use of a bundle after `npm i -g shadowbox`: the daemon installs it from the installed
// `@shadowbox/bundle-<name>` package (or the local build, or the configured mirror), verified, and
// the CLI shows its progress on stderr. Checking installed.json first keeps the common case (already
// installed) to one small file read, with no extra request.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ShadowboxClient } from '@shadowbox/client';
import { BundlesInstall, BundlesList, ErrorCodes, Progress } from '@shadowbox/protocol';
import type { CliIo } from './context.js';

/** Whether the state dir's store lists any version of the bundle (a hint only: load() still verifies it). */
export async function bundleRecorded(stateDir: string, name: string): Promise<boolean> {
  const raw = await readFile(path.join(stateDir, 'bundles', 'installed.json'), 'utf8').catch(() => null);
  if (!raw) return false;
  try {
    const parsed = JSON.parse(raw) as unknown;
    const bundles = (parsed as { bundles?: unknown })?.bundles;
    const entry = typeof bundles === 'object' && bundles !== null ? (bundles as Record<string, unknown>)[name] : null;
    return typeof entry === 'object' && entry !== null && Object.keys(entry).length > 0;
  } catch {
    return false;
  }
}

/**
 * Prints the daemon's `$/progress` messages for `token` on stderr until disposed. The opening line waits for
 * the first report: an install that only joined one already running (the daemon's own python warm-up at
 * start) reports nothing, and then nothing is printed — there was no install of this command's to show.
 */
export function printProgress(client: ShadowboxClient, io: CliIo, token: string): { dispose(): void } {
  let begin: string | null = null;
  let shown = false;
  const print = (message: string, pct?: number) =>
    io.stderr.write(`shadowbox: ${pct !== undefined ? `[${String(pct).padStart(3)}%] ` : ''}${message}\n`);
  return client.connection.onNotification(Progress.method, (raw: unknown) => {
    const p = Progress.params.safeParse(raw);
    if (!p.success || p.data.token !== token || !p.data.value.message) return;
    const { kind, message, percentage } = p.data.value;
    if (kind === 'begin') {
      begin = message;
      return;
    }
    if (kind === 'report' && !shown) {
      shown = true;
      if (begin !== null) print(begin);
    }
    if (kind === 'end' && !shown && !message.startsWith('refused')) return;
    print(message, percentage);
  });
}

/**
 * Installs `name` through the daemon when the store does not list it, printing the daemon's progress.
 * Returns false when no source offers it (a checkout without built bundles); a refusal is thrown.
 */
export async function ensureBundle(
  client: ShadowboxClient,
  io: CliIo,
  stateDir: string,
  name: string,
): Promise<boolean> {
  if (await bundleRecorded(stateDir, name)) return true;
  // A daemon on another state dir ($SHADOWBOX_SOCKET) may have it already: ask before installing again.
  if ((await client.request(BundlesList, {})).bundles.some((b) => b.name === name && b.installed)) return true;
  const token = `first-use-${name}-${process.pid}`;
  const sub = printProgress(client, io, token);
  try {
    await client.request(BundlesInstall, { name, progressToken: token });
    return true;
  } catch (e) {
    const err = e as { code?: unknown; data?: { reason?: unknown } };
    // BundleNotFound: nothing offers it (the caller carries on without it); anything else is a refusal.
    if (err?.code === ErrorCodes.BundleNotFound) return false;
    throw e;
  } finally {
    sub.dispose();
  }
}
