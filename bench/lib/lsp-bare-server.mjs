// The baseline language server: vscode-languageserver on stdio answering `initialize` with no features,
// no daemon and nothing else loaded — what any Node LSP server costs to start.
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';

const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
connection.onInitialize(() => ({ capabilities: {} }));
connection.listen();
