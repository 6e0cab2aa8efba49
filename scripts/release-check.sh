#!/usr/bin/env bash
# The release install check (CI runs it after the tests): pack the release with a throw-away key
# ceremony, install the tarballs into an empty prefix with no C compiler on PATH, and run what a new
# user runs first. Needs `npm run build` and the official bundles in bundles/out (scripts/setup.sh).
#   bash scripts/release-check.sh [--keep] [--out DIR]
# --out DIR copies the tarballs there: signed by this run's throw-away root (shipped inside them), so
# they install and work anywhere, but they are a local build, not an official release.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$(date +%s%N)
work=$(mktemp -d /tmp/shadowbox-release-check.XXXXXX)
lap() { echo "release-check: $1 ($(( ($(date +%s%N) - start) / 1000000 )) ms)"; }
cleanup() {
  PATH="$clean_path" HOME="$work/home" SHADOWBOX_STATE_DIR="$work/state" shadowbox stop >/dev/null 2>&1 || true
  [[ "${1:-}" == --keep ]] || rm -rf "$work"
}
clean_path=/usr/bin
trap 'cleanup "${KEEP:-}"' EXIT
KEEP='' OUT=''
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep) KEEP=--keep && echo "release-check: keeping $work" ;;
    --out) OUT=$(realpath -m "$2") && shift ;;
    *) echo "usage: release-check.sh [--keep] [--out DIR]" >&2 && exit 2 ;;
  esac
  shift
done

# 1. A throw-away key ceremony (the official keys never reach CI): root v1 offline, one release key.
node bundles/scripts/keygen.mjs --release --out "$work/offline" --keys-dir "$work/root" >/dev/null
mkdir -m 700 "$work/release-key" && mv "$work/offline"/release-1* "$work/release-key/"
# 2. npm pack: shadowbox + one package per official bundle.
node scripts/release/pack.mjs --keys "$work/release-key" --root-dir "$work/root" --out "$work/tarballs"
lap packed
if [[ -n "$OUT" ]]; then mkdir -p "$OUT" && cp "$work"/tarballs/*.tgz "$OUT"/ && echo "release-check: tarballs in $OUT"; fi

# 3. PATH with every program of this PATH except build tools (compilers, linkers, make).
mkdir "$work/bin"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  for f in "$d"/*; do
    n=${f##*/}
    case "$n" in
      cc | c++ | c89* | c99* | cpp* | gcc* | g++* | *-gcc* | *-g++* | clang* | *-clang* | ld | ld.* | lld* | *-ld | wasm-ld* | make | gmake | cmake | tcc | as) continue ;;
    esac
    [[ -x "$f" && ! -d "$f" && ! -e "$work/bin/$n" ]] && ln -s "$f" "$work/bin/$n"
  done
done
clean_path="$work/prefix/bin:$work/bin"
export PATH="$clean_path" HOME="$work/home" SHADOWBOX_STATE_DIR="$work/state" SHADOWBOX_CACHE_DIR="$work/cache"
unset SHADOWBOX_SOCKET SHADOWBOX_BIN SHADOWBOX_BUNDLE_MIRROR XDG_RUNTIME_DIR OPENAI_API_KEY ANTHROPIC_API_KEY || true
mkdir -p "$work/home" "$work/project"
for tool in cc gcc clang make; do
  if command -v "$tool" >/dev/null; then echo "release-check: $tool is still on PATH" >&2; exit 1; fi
done

# 4. Install the tarballs into the empty prefix (offline: nothing to download, nothing to build).
npm install -g --offline --no-audit --no-fund --no-update-notifier --prefix "$work/prefix" "$work"/tarballs/*.tgz
lap installed
[[ "$(command -v shadowbox)" == "$work/prefix/bin/shadowbox" ]]

# 5. What a new user runs.
cd "$work/project"
shadowbox --version
out=$(shadowbox python -c 'print(1)')
[[ "$out" == 1 ]] || { echo "release-check: python printed ${out@Q}" >&2; exit 1; }
lap 'python -c print(1)'
# The install step put the native launcher in the bin's place (daemon/bin/install-launcher.cjs), and it answers
# python -c by itself now that the daemon runs and python is installed: with no node on PATH.
[[ "$(head -c4 "$(readlink -f "$(command -v shadowbox)")" | od -An -c | tr -d ' ')" == '177ELF' ]] ||
  { echo 'release-check: the installed bin is not the native launcher' >&2; exit 1; }
out=$(PATH=/nonexistent "$work/prefix/bin/shadowbox" python -c 'print(6*7)')
[[ "$out" == 42 ]] || { echo "release-check: the launcher's python printed ${out@Q}" >&2; exit 1; }
lap 'python -c through the native launcher'
node "$repo/scripts/release/acp-initialize.mjs"
lap 'acp initialize'
shadowbox demo >"$work/demo.log" 2>&1 || { cat "$work/demo.log"; exit 1; }
grep -q 'verified: ' "$work/demo.log" || { cat "$work/demo.log"; echo 'release-check: demo did not verify its audit log' >&2; exit 1; }
grep -q 'python@.* from package:' "$work/demo.log" || { cat "$work/demo.log"; echo 'release-check: demo did not install python from its package' >&2; exit 1; }
lap demo
shadowbox doctor || { echo 'release-check: doctor reported a problem' >&2; exit 1; }
lap done
