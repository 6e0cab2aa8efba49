// vscode-jsonrpc's browser runtime layer, installed before any connection is made (see rpc/rpc-client.ts).
import 'vscode-jsonrpc/browser';
import { App } from './app.js';
import { takeToken } from './token.js';
import './styles.css';

// The token leaves the address bar before anything else runs (no history entry, no Referer: see index.html).
const fragment = takeToken(location, history, sessionStorage);
const root = document.getElementById('app');
if (root) new App(root, fragment).start();
