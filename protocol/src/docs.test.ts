import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderProtocolDocs } from './render-docs.js';
import { allMessages } from './methods.js';

describe('docs/protocol.md', () => {
  it('is generated from the declarations and up to date (run npm run gen:protocol-docs)', async () => {
    const committed = await readFile(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    expect(committed).toBe(renderProtocolDocs());
  });

  it('declares every fixed method name of the foundation issue exactly once', () => {
    const names = allMessages.map((m) => m.method);
    expect(new Set(names).size).toBe(names.length);
    for (const m of [
      'initialize',
      'initialized',
      'shutdown',
      'exit',
      '$/cancelRequest',
      '$/progress',
      'session/create',
      'session/list',
      'session/attach',
      'session/detach',
      'session/prompt',
      'session/cancel',
      'session/event',
      'permission/request',
      'tools/list',
      'tools/call',
      'shadow/status',
      'shadow/diff',
      'shadow/accept',
      'shadow/reject',
      'shadow/undo',
      'audit/query',
      'audit/verify',
      'bundles/list',
      'bundles/verify',
      'bundles/install',
    ]) {
      expect(names).toContain(m);
    }
  });
});
