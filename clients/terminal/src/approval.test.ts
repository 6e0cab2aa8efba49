import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import { writePreview } from './approval.js';
import { permissionBlock } from './format.js';

const plain = pc.createColors(false);
const lines = Array.from({ length: 20 }, (_, i) => `x${i + 1} = ${i + 1}`).join('\n') + '\n';

describe('a write_file question previews its diff', () => {
  it('against the current file: only the changed lines with two of context, in place of the content', () => {
    const p = writePreview('calc.py', lines, lines.replace('x10 = 10\n', 'x10 = 100\n'), plain)!;
    expect(p.title).toBe('change (against the file as the agent has it now):');
    expect(p.lines.map((l) => l.trim())).toEqual([
      '@@ -8,5 +8,5 @@',
      'x8 = 8',
      'x9 = 9',
      '-x10 = 10',
      '+x10 = 100',
      'x11 = 11',
      'x12 = 12',
    ]);
    const block = permissionBlock(
      {
        sessionId: 's',
        callId: 'c',
        requestId: 'r',
        tool: 'write_file',
        kind: 'edit',
        summary: 'calc.py',
        input: { path: 'calc.py', content: 'whole new content' },
        rule: 'project:ask tool=write_file',
        options: ['allow_once', 'deny'],
      },
      plain,
      100,
      p,
    );
    expect(block).toContain('    path: calc.py');
    expect(block.join('\n')).not.toContain('whole new content');
    expect(block).toContain('      -x10 = 10');
  });

  it('a new file, a write that changes nothing, and a long diff folded', () => {
    expect(writePreview('n.txt', null, 'a\nb\n', plain)!.title).toBe('change (a new file):');
    const none = writePreview('n.txt', 'a\n', 'a\n', plain)!;
    expect(none.title).toBe('change: none (the file already holds this content)');
    expect(none.lines).toEqual([]);
    const long = writePreview('n.txt', null, lines, plain, 5)!;
    expect(long.lines).toHaveLength(6);
    expect(long.lines[5].trim()).toBe('… 16 more lines');
  });
});
