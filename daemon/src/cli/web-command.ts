import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DaemonStatus } from '@shadowbox/protocol';
import { readToken } from '../state/index.js';
import { type CliIo, CliError, connectCli, println, statePaths } from './context.js';
import { optionsOf } from './specs.js';

/**
 * The page URL with the token (and the workspace to offer for new sessions) in the fragment: browsers
 * never send a fragment to a server or in a Referer, and the page removes it from the address bar.
 */
export function webUrlWithToken(webUrl: string, token: string, workspace?: string): string {
  const url = new URL(webUrl);
  const frag = new URLSearchParams({ token });
  if (workspace) frag.set('workspace', workspace);
  url.hash = frag.toString();
  return url.toString();
}

/**
 * `shadowbox web [--open] [--json] [--workspace DIR] [--state-dir DIR]`: makes sure the daemon runs, prints the web
 * client's URL carrying the token in its fragment, and with --open hands it to xdg-open.
 */
export async function webCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: optionsOf('web') });
  const paths = statePaths(io, values['state-dir']);
  const client = await connectCli(io, {
    ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
    name: 'shadowbox-web',
  });
  let webUrl: string | null;
  try {
    webUrl = (await client.request(DaemonStatus, {})).webUrl;
  } finally {
    client.dispose();
  }
  if (!webUrl)
    throw new CliError(
      'the running daemon has no web server (it was started with --no-web or --stdio); restart it with `shadowbox stop` and let `shadowbox web` start it',
    );
  const token = readToken(paths.tokenFile);
  if (!token) throw new CliError(`no token file at ${paths.tokenFile}; is the daemon for this state dir running?`);
  const url = webUrlWithToken(webUrl, token, path.resolve(io.cwd, values.workspace ?? '.'));
  if (values.json) println(io, JSON.stringify({ url, webUrl }));
  else {
    println(io, url);
    if (io.stdout.isTTY)
      println(io, 'Open this link in a browser on this machine. It carries the access token: do not share it.');
  }
  if (values.open) await openBrowser(url, io);
  return 0;
}

/** Starts xdg-open (or $BROWSER) detached; a missing opener is a one-line message, not a failure. */
async function openBrowser(url: string, io: CliIo): Promise<void> {
  const opener = io.env.BROWSER || 'xdg-open';
  await new Promise<void>((resolve) => {
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore', env: io.env });
    child.once('error', (e) => {
      io.stderr.write(
        `shadowbox web: could not start ${opener} (${(e as NodeJS.ErrnoException).code ?? e.message}); open the URL above by hand\n`,
      );
      resolve();
    });
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}
