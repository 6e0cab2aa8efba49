// The sqlite3 command-line shell 3.40.1 (Debian bookworm source, Debian patches applied) for
// wasm32-wasi. The amalgamation (sqlite3.c, shell.c) is generated on the host with the upstream
// configure + make (needs a host C compiler and tclsh), then compiled for WASI with no threads, no
// WAL, no mmap, no extension loading, and no-op file locks (one process per database in the sandbox).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

export const sources = [{ package: 'sqlite3', version: '3.40.1-2+deb12u2' }];

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
const SQLITE_FLAGS = [
  '-DSQLITE_THREADSAFE=0',
  '-DSQLITE_OMIT_LOAD_EXTENSION',
  '-DSQLITE_OMIT_WAL',
  '-DSQLITE_OMIT_SHARED_CACHE',
  '-DSQLITE_MAX_MMAP_SIZE=0',
  '-DSQLITE_OMIT_POPEN',
  '-DSQLITE_NOHAVE_SYSTEM',
  '-DSQLITE_ENABLE_FTS5',
  '-DSQLITE_ENABLE_MATH_FUNCTIONS',
  '-DSQLITE_ENABLE_DBSTAT_VTAB',
  '-DHAVE_ISNAN',
];

export async function build(ctx) {
  const src = ctx.srcDirs.sqlite3;
  const bld = join(src, 'bld');
  await mkdir(bld, { recursive: true });
  // Host step: generate the amalgamation exactly as upstream does.
  await ctx.run('../configure', ['--disable-tcl', '--disable-readline', '--disable-load-extension'], { cwd: bld });
  await ctx.run('make', ['-j2', 'sqlite3.c', 'shell.c'], { cwd: bld });
  const cflags = [...WASI_FLAGS, ...SQLITE_FLAGS, '-include', join(ctx.recipeDir, 'sqlite-wasi.h'), `-I${bld}`];
  await ctx.parallel([
    () => ctx.cc([...cflags, '-c', 'sqlite3.c', '-o', 'sqlite3.o'], { cwd: bld }),
    () => ctx.cc([...cflags, '-c', 'shell.c', '-o', 'shell.o'], { cwd: bld }),
  ]);
  const out = join(bld, 'sqlite3.wasm');
  await ctx.cc(['-s', 'sqlite3.o', 'shell.o', '-o', out, ...WASI_LIBS], { cwd: bld });
  return { files: { 'bin/sqlite3.wasm': out }, flags: [...WASI_FLAGS, ...SQLITE_FLAGS] };
}
