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
// hugetlb=1: glibc asks for transparent huge pages (madvise) on the memory it maps, where the system leaves them to
// the program (`madvise` in /sys/kernel/mm/transparent_hugepage/enabled, Debian's default). On a VM where the first
// touch of a 4 KiB page costs ~10 µs (the one measured here: 64 MiB of Buffer filled in 182-192 ms; with this, 12-16
// ms in four of seven tries and 82-114 in the rest, presumably where the VM's host had not backed the memory yet),
// one fault per 2 MiB instead of 512 makes every start's first python call 0.85-0.92x the time. Its price is idle
// memory, 1.09-1.11x in run 40 (~98-102 against ~88-93 MiB) and 1.01-1.03x in run 41: glibc then grows its heaps in
// 2 MiB steps and a partly used huge page stays resident whole (docs/benchmarks.md, runs 40-41, which weigh the two).
// A first start on a new state dir gained 0.66-0.78x from it while the bundle install read its archive whole; the
// install streams it now (0.96-0.98x).
// V8's own heap and WebAssembly memories are not malloc's and keep 4 KiB pages.

/**
 * The glibc tunables the daemon is started with: trim at 128 KiB (which also keeps the mmap threshold at its 128 KiB
 * default), two arenas, transparent huge pages asked for.
 */
export const DAEMON_MALLOC_TUNABLES =
  'glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1';

/** `env` with GLIBC_TUNABLES set for the daemon, unless the caller's environment already has its own (kept as is). */
export function daemonStartEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.GLIBC_TUNABLES === undefined ? { ...env, GLIBC_TUNABLES: DAEMON_MALLOC_TUNABLES } : env;
}
