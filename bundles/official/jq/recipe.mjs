// jq 1.6 (Debian bookworm source, Debian patches applied) for wasm32-wasi, without oniguruma
// (no regex builtins: test/match/sub fail with "jq was compiled without ONIGURUMA regex library").
// The autotools build is bypassed: the sources are compiled directly with the -D flags configure
// would set on a musl-like libc.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const sources = [{ package: 'jq', version: '1.6-2.1+deb12u2' }];

const WASI_FLAGS = [
  '-D_WASI_EMULATED_SIGNAL',
  '-D_WASI_EMULATED_MMAN',
  '-D_WASI_EMULATED_PROCESS_CLOCKS',
  '-D_WASI_EMULATED_GETPID',
];
const WASI_LIBS = [
  '-lwasi-emulated-signal',
  '-lwasi-emulated-mman',
  '-lwasi-emulated-process-clocks',
  '-lwasi-emulated-getpid',
  '-lm',
];
// libm functions jq probes for; gamma() is the one wasi-libc (musl) lacks.
const NO_LIBM = new Set(['HAVE_GAMMA']);

export async function build(ctx) {
  const src = ctx.srcDirs.jq;
  const builtin = await readFile(join(src, 'src', 'builtin.jq'), 'utf8');
  // The Makefile's sed rule: each line of builtin.jq as a C string literal.
  const inc = builtin
    .split('\n')
    .slice(0, builtin.endsWith('\n') ? -1 : undefined)
    .map((l) => `"${l.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}\\n"`)
    .join('\n');
  await writeFile(join(src, 'src', 'builtin.inc'), `${inc}\n`);
  await writeFile(join(src, 'src', 'version.h'), '#define JQ_VERSION "1.6"\n');
  const libm = await readFile(join(src, 'src', 'libm.h'), 'utf8');
  const haves = [...new Set([...libm.matchAll(/#ifdef (HAVE_[A-Z0-9_]+)/g)].map((m) => m[1]))]
    .filter((h) => !NO_LIBM.has(h))
    .sort();
  const defs = [...WASI_FLAGS, '-DIEEE_8087', '-DHAVE_MKSTEMP', ...haves.map((h) => `-D${h}`)];
  const cflags = [...defs, '-include', join(ctx.recipeDir, 'wasi-compat.h'), `-I${src}`, `-I${join(src, 'src')}`];
  const units = (await readdir(join(src, 'src'))).filter((f) => f.endsWith('.c') && f !== 'inject_errors.c').sort();
  await ctx.parallel(
    units.map(
      (u) => () => ctx.cc([...cflags, '-c', join('src', u), '-o', join('src', u.replace(/\.c$/, '.o'))], { cwd: src }),
    ),
  );
  const out = join(src, 'jq.wasm');
  await ctx.cc(['-s', ...units.map((u) => join('src', u.replace(/\.c$/, '.o'))), '-o', out, ...WASI_LIBS], {
    cwd: src,
  });
  return { files: { 'bin/jq.wasm': out }, flags: [...WASI_FLAGS, '-DIEEE_8087', '--without-oniguruma'] };
}
