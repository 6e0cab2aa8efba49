import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { BundlesInstall, BundlesList, BundlesTrust, BundlesVerify, DaemonStatus } from '@shadowbox/protocol';
import { REPO_ROOT } from '../bundles/index.js';
import { type CliIo, CliError, connectCli, println } from './context.js';
import { printProgress } from './first-use.js';
import { colorsFor } from './review-commands.js';
import { optionsOf } from './specs.js';

const USAGE = [
  'usage: shadowbox bundles <list | verify PATH | install NAME[@VERSION] [--mirror URL|DIR] | trust KEYFILE | build NAME... [--force] | sign ARGS... | serve>',
  '  list              installed bundles and the ones the local build output offers',
  '  verify PATH       check an archive or folder against the trust root (exit 1 when refused)',
  "  install NAME      verify, then store, from a mirror (another daemon's /bundles/ or a folder) or the local build",
  '  trust KEYFILE     trust a developer key (loud; recorded in the audit log)',
  '  build NAME...     build official bundles from their recipes (Debian sources, clang-19 → wasm32-wasi), signed',
  '  sign ...          bundles/scripts/sign.mjs (publisher side)',
  '  serve             print the mirror URL this daemon serves (/bundles/ on its loopback HTTP server)',
].join('\n');

/** Runs one of the repository's publisher scripts (they need the checkout: recipes, keys, toolchain). */
async function script(io: CliIo, name: string, args: string[]): Promise<number> {
  const file = path.join(REPO_ROOT, 'bundles', 'scripts', name);
  if (!existsSync(file))
    throw new CliError(`${name} is part of the shadowbox source checkout, not found at ${file}`, 2);
  const r = await execa(process.execPath, [file, ...args], { stdio: 'inherit', reject: false, env: io.env });
  return r.exitCode ?? 1;
}

/** `shadowbox bundles …`: every subcommand but build/sign goes through the daemon's bundles/* methods. */
export async function bundlesCommand(io: CliIo, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'build') return script(io, 'build.mjs', rest);
  if (sub === 'sign') return script(io, 'sign.mjs', rest);
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: optionsOf('bundles') });
  if (!sub || !['list', 'verify', 'install', 'trust', 'serve'].includes(sub)) throw new CliError(USAGE, 2);
  const c = colorsFor(io);
  const client = await connectCli(io, { stateDir: values['state-dir'] });
  try {
    switch (sub) {
      case 'list': {
        const r = await client.request(BundlesList, {});
        if (values.json) println(io, JSON.stringify(r));
        else if (r.bundles.length === 0)
          println(io, 'no bundles installed or built (build them with: shadowbox bundles build python jq sqlite)');
        else
          for (const b of r.bundles)
            println(
              io,
              `${c.bold(`${b.name}@${b.version}`)} ${b.installed ? c.green('installed') : c.dim('available')}  ${b.description}${b.tools.length ? c.dim(`  tools: ${b.tools.join(', ')}`) : ''}  ${c.dim(b.source)}`,
            );
        return 0;
      }
      case 'verify': {
        const p = positionals[0];
        if (!p) throw new CliError('usage: shadowbox bundles verify PATH', 2);
        const r = await client.request(BundlesVerify, { path: path.resolve(io.cwd, p) });
        if (values.json) println(io, JSON.stringify(r));
        else
          println(
            io,
            `${c.green('✓')} ${r.name}@${r.version} verified (manifest ${r.manifestSha256.slice(0, 16)}…, signed by ${r.keyIds.join(', ')})`,
          );
        return 0;
      }
      case 'install': {
        const spec = positionals[0];
        if (!spec) throw new CliError('usage: shadowbox bundles install NAME[@VERSION] [--mirror URL|DIR]', 2);
        const [name, version] = spec.split('@') as [string, string | undefined];
        const mirror =
          values.mirror && !/^https?:/.test(values.mirror) ? path.resolve(io.cwd, values.mirror) : values.mirror;
        const progressToken = `install-${process.pid}`;
        const sub = values.json ? null : printProgress(client, io, progressToken);
        const r = await client
          .request(BundlesInstall, {
            name,
            ...(version ? { version } : {}),
            ...(mirror ? { mirror } : {}),
            progressToken,
          })
          .finally(() => sub?.dispose());
        if (values.json) println(io, JSON.stringify(r));
        else println(io, `${c.green('✓')} installed ${r.name}@${r.version} from ${r.source} (verified before storing)`);
        return 0;
      }
      case 'trust': {
        const f = positionals[0];
        if (!f) throw new CliError('usage: shadowbox bundles trust KEYFILE', 2);
        const r = await client.request(BundlesTrust, { keyFile: path.resolve(io.cwd, f) });
        println(
          io,
          `${c.yellow('!')} now trusting developer key ${r.keyId} for bundles it signs (recorded in the audit log)`,
        );
        return 0;
      }
      default: {
        const s = await client.request(DaemonStatus, {});
        if (!s.webUrl)
          throw new CliError('this daemon has no HTTP server (started with --no-web); restart it without --no-web', 1);
        println(
          io,
          `${s.webUrl.replace(/\/$/, '')}/bundles/   (install elsewhere with: shadowbox bundles install NAME --mirror <this URL>)`,
        );
        return 0;
      }
    }
  } finally {
    client.dispose();
  }
}
