// The environment a client starts the daemon in: the caller's, plus glibc malloc settings that let the
// daemon give memory back. Python's warm-up frees 13 MiB buffers (CPython's module, read and copied);
// glibc then raises its mmap and trim thresholds to that size (its "dynamic threshold"), so what worker
// threads and V8's compiler free later stays in their malloc arenas: an idle daemon held 10–12 MiB of
// free memory it never returned (bench/start.mjs: 130 → 118 and 125 → 115 MiB idle; docs/benchmarks.md). A fixed trim
// threshold turns the dynamic thresholds off; two arenas instead of one per thread keep the freed
// pieces in fewer places. Only an environment variable read when the process starts can set these
// (Node has no mallopt), so they are set where the daemon is started; a person who runs `shadowbox
// daemon` directly sets GLIBC_TUNABLES themselves (docs/architecture.md). Ignored where libc is not glibc.
//
// Not set: glibc's huge pages (`glibc.malloc.hugetlb=1`, transparent huge pages asked for with madvise where
// /sys/kernel/mm/transparent_hugepage/enabled leaves them to the program, Debian's default). On the VM measured here,
// where the first touch of a 4 KiB page costs ~10 µs, one fault per 2 MiB instead of 512 made every start's first
// python call 0.85-0.95x the time (runs 40-42): a gain that rests on how dear this VM's page faults are. Their price is
// idle memory: glibc grows its heaps in 2 MiB steps and a partly used huge page stays resident whole, 1.09-1.11x in
// run 40, 1.04-1.10x in run 42 (~97-100 against ~88-94 MiB), 1.01-1.03x in run 41, with single starts at 103-106 MiB
// against the idle goal (<= 100 MiB); without them every reading of runs 40 and 42 but one (100.2) stayed under 100.
// The first call misses its goal (<= 150 ms) either way.
// Left out since run 42 (docs/benchmarks.md); the bench still measures them.
// V8's own heap and WebAssembly memories are not malloc's and keep 4 KiB pages.

/**
 * The glibc tunables the daemon is started with: trim at 128 KiB (which also keeps the mmap threshold at its 128 KiB
 * default), two arenas.
 */
export const DAEMON_MALLOC_TUNABLES = 'glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=2';

/** `env` with GLIBC_TUNABLES set for the daemon, unless the caller's environment already has its own (kept as is). */
export function daemonStartEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.GLIBC_TUNABLES === undefined ? { ...env, GLIBC_TUNABLES: DAEMON_MALLOC_TUNABLES } : env;
}
