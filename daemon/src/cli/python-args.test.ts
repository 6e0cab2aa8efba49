import { describe, expect, it } from 'vitest';
import { pythonCliInput } from './python-args.js';

const ws = '/home/p/proj';

describe('pythonCliInput (python3 command line)', () => {
  it('maps -c, -m, FILE and - like python3, dropping options without meaning in the sandbox', () => {
    expect(pythonCliInput(['-u', '-c', 'print(1)', 'a'], ws, ws).input).toEqual({ code: 'print(1)', args: ['a'] });
    expect(pythonCliInput(['-mjson.tool', 'x'], ws, ws).input).toEqual({ module: 'json.tool', args: ['x'] });
    expect(pythonCliInput(['-W', 'ignore', '-m', 'pip', 'install', 'p'], ws, ws).input).toEqual({
      module: 'pip',
      args: ['install', 'p'],
    });
    expect(pythonCliInput(['sub/s.py', '1'], `${ws}/x`, ws).input).toEqual({ file: 'x/sub/s.py', args: ['1'] });
    expect(pythonCliInput([], ws, ws).programFromStdin).toBe(true);
    expect(pythonCliInput(['-', 'a'], ws, ws)).toEqual({ input: { code: '', args: ['a'] }, programFromStdin: true });
  });

  it('answers -V / --version / -h / --help with the interpreter itself', () => {
    for (const a of ['-V', '--version']) expect(pythonCliInput([a], ws, ws).input.code).toContain('sys.version_info');
    for (const a of ['-h', '--help']) expect(pythonCliInput([a], ws, ws).input.code).toContain('_shadowbox_boot.USAGE');
  });

  it('refuses a missing argument, an unknown option and a script outside the workspace', () => {
    expect(() => pythonCliInput(['-c'], ws, ws)).toThrow(expect.objectContaining({ reason: 'missing_argument' }));
    expect(() => pythonCliInput(['--frobnicate'], ws, ws)).toThrow(
      expect.objectContaining({ reason: 'unknown_option' }),
    );
    expect(() => pythonCliInput(['../x.py'], ws, ws)).toThrow(expect.objectContaining({ reason: 'path_escape' }));
  });
});
