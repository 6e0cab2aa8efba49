// Subcommands of capabilities beyond the lifecycle ones; each registers itself here.
import { registerCommand } from './main.js';
import { daemonCommand } from './context.js';
import { VERSION } from '../version.js';

registerCommand('acp', 'speak the Agent Client Protocol on stdio for an editor (Zed, JetBrains, Neovim)', async () => async (io, argv) => (await import('@shadowbox/client/acp')).acpCommand(io, argv, daemonCommand(), VERSION));
