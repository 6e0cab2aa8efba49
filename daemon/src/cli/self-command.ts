// The command line that starts this same CLI as a daemon, in a file of its own: the ACP bridge's small
// bundle (acp-main.ts) needs it without context.ts's imports (the state layout, the status schemas).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The command that starts this same CLI as a daemon (used by auto-start). */
export function daemonCommand(): string[] {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/shadowbox.js');
  return [process.execPath, bin, 'daemon'];
}
