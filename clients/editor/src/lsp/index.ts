// The language server: `shadowbox lsp` shows the pending agent changes in any LSP editor.
export { lspCommand, type LspIo } from './command.js';
export { createLspServer, type LspServer, type LspServerOptions } from './server.js';
