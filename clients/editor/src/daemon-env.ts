// The environment a client starts the daemon in: the caller's, plus glibc malloc settings that let the
// daemon give memory back. Python's warm-up frees 13 MiB buffers (CPython's module, read and copied);
// glibc then raises its mmap and trim thresholds to that size (its "dynamic threshold"), so what worker
// threads and V8's compiler free later stays in their malloc arenas: an idle daemon held 10–12 MiB of
// free memory it never returned (bench/start.mjs: 130 → 118 and 125 → 115 MiB idle; docs/benchmarks.md). A fixed trim
// threshold turns the dynamic thresholds off; two arenas instead of one per thread keep the freed
// pieces in fewer places. Only an environment variable read when the process starts can set these
// (Node has no mallopt), so they are set where the daemon is started; a person who runs `shadowbox
// daemon` directly sets GLIBC_TUNABLES themselves (docs/architecture.md). Ignored where libc is not glibc.

/** The glibc tunables the daemon is started with (trim at 128 KiB, which also keeps the mmap threshold at its 128 KiB default; two arenas). */
export const DAEMON_MALLOC_TUNABLES = 'glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=2';

/** `env` with GLIBC_TUNABLES set for the daemon, unless the caller's environment already has its own (kept as is). */
export function daemonStartEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.GLIBC_TUNABLES === undefined ? { ...env, GLIBC_TUNABLES: DAEMON_MALLOC_TUNABLES } : env;
}
