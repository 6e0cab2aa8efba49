import { describe, expect, it } from 'vitest';
import { viewPathRules } from './view-rules.js';

describe('viewPathRules', () => {
  it('hides paths of deny rules without a tool (any kind, read, search); edit/delete/move make them read-only', () => {
    expect(
      viewPathRules([
        { id: 'a', action: 'deny', path: 'secrets/**' },
        { id: 'b', action: 'deny', kind: 'read', path: '**/*.pem' },
        { id: 'c', action: 'deny', kind: 'edit', path: 'vendor/**' },
        { id: 'd', action: 'deny', tool: 'write_file', path: 'docs/**' },
        { id: 'e', action: 'ask', path: 'ask/**' },
        { id: 'f', action: 'allow', path: 'src/**' },
        { id: 'g', action: 'deny', host: 'example.com' },
        { id: 'h', action: 'deny', kind: 'fetch', path: 'x/**' },
      ]),
    ).toEqual({ hidden: ['secrets/**', '**/*.pem'], readOnly: ['vendor/**'] });
  });
});
