import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
// The python tool's input type only (erased): `shadowbox python` does not load the interpreter's runtime.
import type { PythonToolInput } from '../python/index.js';

/** `python3 -V` / `-h`, answered by the sandboxed interpreter itself (its version, its usage text). */
const VERSION_CODE = "import sys\nprint('Python %d.%d.%d' % sys.version_info[:3])";
const HELP_CODE = "import _shadowbox_boot\nprint(_shadowbox_boot.USAGE, end='')";

/**
 * Maps `shadowbox python [PYTHON ARGS]` (python3's own syntax: options, then -c CODE, -m MOD,
 * FILE or -) to the `python` tool's input. FILE is resolved against `cwd` and must be inside the
 * workspace. `-V`/`--version` and `-h`/`--help` run the interpreter's own answer. Options with no
 * meaning in the sandbox (-u -B -E -I -s -S -q -b -O -d -v, -W/-X with their argument) are
 * accepted and dropped. Returns programFromStdin when the program is stdin.
 */
export function pythonCliInput(
  argv: string[],
  cwd: string,
  workspace: string,
): { input: PythonToolInput; programFromStdin: boolean } {
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '-' || !a.startsWith('-')) break;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-V' || a === '--version') return { input: { code: VERSION_CODE }, programFromStdin: false };
    if (a === '-h' || a === '-?' || a === '--help') return { input: { code: HELP_CODE }, programFromStdin: false };
    if (a === '-c' || a === '-m') {
      const v = argv[i + 1];
      if (v === undefined)
        throw new ShadowboxError(
          ErrorCodes.ToolInputInvalid,
          'missing_argument',
          `Argument expected for the ${a} option`,
        );
      const rest = argv.slice(i + 2);
      return { input: a === '-c' ? { code: v, args: rest } : { module: v, args: rest }, programFromStdin: false };
    }
    if (a.startsWith('-c') || a.startsWith('-m')) {
      const rest = argv.slice(i + 1);
      return {
        input: a[1] === 'c' ? { code: a.slice(2), args: rest } : { module: a.slice(2), args: rest },
        programFromStdin: false,
      };
    }
    if (a === '-W' || a === '-X') i++;
    else if (!/^-[uBEIsSqbOdv]+$/.test(a) && !/^-[WX]./.test(a)) {
      throw new ShadowboxError(ErrorCodes.ToolInputInvalid, 'unknown_option', `Unknown option: ${a}`);
    }
  }
  const target = argv[i];
  if (target === undefined || target === '-')
    return { input: { code: '', args: argv.slice(i + 1) }, programFromStdin: true };
  const rel = path.relative(workspace, path.resolve(cwd, target)).split(path.sep).join('/');
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new ShadowboxError(
      ErrorCodes.PathOutsideWorkspace,
      'path_escape',
      `${target} is outside the workspace ${workspace}`,
      { path: target },
    );
  }
  return { input: { file: rel, args: argv.slice(i + 1) }, programFromStdin: false };
}
