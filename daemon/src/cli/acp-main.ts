// `shadowbox acp` as an entry of its own: scripts/bundle.mjs bundles it apart from the CLI
// (dist/bundle/acp.cjs), so the bridge an editor keeps running holds the ACP SDK, the client library and
// the protocol, not the daemon (docs/editors.md has the memory this saves). daemon/bin/shadowbox.js picks
// it for `shadowbox acp`; `shadowbox acp --help` goes through the full CLI (main.ts), which also runs
// the bridge when there is no bundle.
import { VERSION } from '../version.js';
import type { CliIo } from './context.js';
import { daemonCommand } from './self-command.js';

/** Runs `shadowbox acp ARGS` (argv[0] is `acp`); returns the exit code, as main.ts does for every command. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  try {
    // Imported, not at the top: esbuild then initialises the SDK and zod in the order their modules need
    // (a static import ran the SDK's schemas before zod's classes were defined).
    const { acpCommand } = await import('@shadowbox/client/acp');
    return await acpCommand(io, argv.slice(1), daemonCommand(), VERSION);
  } catch (e) {
    // A bad option is one sentence and exit 2, as main.ts says it (acpCommand reports a daemon it cannot reach).
    if (e instanceof TypeError && (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`shadowbox acp: ${e.message} (shadowbox acp --help lists the options)\n`);
      return 2;
    }
    io.stderr.write(`shadowbox acp: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}
