import { describe, expect, it } from 'vitest';
import { viewWriteProtected } from './view-rules.js';

describe('viewWriteProtected', () => {
  it('takes the paths of deny rules on edit, delete or move that name no tool', () => {
    expect(
      viewWriteProtected([
        { id: 'a', action: 'deny', path: 'secrets/**' },
        { id: 'b', action: 'deny', kind: 'read', path: '**/*.pem' },
        { id: 'c', action: 'deny', kind: 'edit', path: 'vendor/**' },
        { id: 'd', action: 'deny', kind: 'delete', path: 'keep/**' },
        { id: 'e', action: 'deny', tool: 'write_file', kind: 'edit', path: 'docs/**' },
        { id: 'f', action: 'ask', kind: 'edit', path: 'ask/**' },
        { id: 'g', action: 'allow', kind: 'edit', path: 'src/**' },
        { id: 'h', action: 'deny', kind: 'fetch', path: 'x/**' },
      ]),
    ).toEqual(['vendor/**', 'keep/**']);
  });
});
