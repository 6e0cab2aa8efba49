#!/usr/bin/env bash
# shadowbox official bundle "python": CPython 3.11.2 for wasm32-wasi, built from Debian source
# packages, pre-initialized with Wizer, stdlib as a normalized bytecode zip.
#
#   build.sh [OUT_DIR]
#
# OUT_DIR (default bundles/.cache/python/out) receives the bundle's files:
#   python.wasm                      pre-initialized interpreter (stripped)
#   lib/python311.zip                stdlib bytecode and sources (+ shadowbox's own modules)
#   lib/python3.11/pip-*.whl         pip from Lib/ensurepip (python -m pip install of local wheels)
#   lib/python3.11/os.py             landmark
#   lib/python3.11/lib-dynload/      empty (no dynamic loading on WASI)
#   BUILDINFO.txt                    versions, Debian patches applied, recipe hash
# The result is cached under bundles/.cache/python/<recipe-hash>/ and copied from there when the
# recipe did not change. Needs: clang-19 lld-19 llvm-19 wasi-libc libclang-rt-19-dev-wasm32 dpkg-dev
# tcl (sqlite's amalgamation), /usr/bin/python3.11, node + npm deps (@bytecodealliance/wizer).
# Reproducible: fixed build path, SOURCE_DATE_EPOCH, -ffile-prefix-map, normalized zip.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CACHE=${SHADOWBOX_PYTHON_CACHE:-$ROOT/bundles/.cache/python}
OUT=${1:-$CACHE/out}
export HERE
export B=${SHADOWBOX_BUILD_DIR:-/tmp/shadowbox-build/python}
export DL=${SHADOWBOX_PYTHON_SOURCES:-$CACHE/src}
export APT_DIR=$B/apt
export JOBS=${JOBS:-$(nproc)}
# bundles/scripts/build.mjs passes the newest source changelog date; standalone: the pin date.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1747699200}
export LC_ALL=C TZ=UTC
WIZER=${WIZER:-$ROOT/node_modules/@bytecodealliance/wizer-linux-x64/wizer}

# The recipe hash covers every file of the recipe (not the cache or outputs).
RECIPE_HASH=$(cd "$HERE" && find . -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z |
  xargs -0 sha256sum | sha256sum | cut -c1-16)
KEYED=$CACHE/$RECIPE_HASH

install_out() {
  rm -rf "$OUT" && mkdir -p "$OUT"
  cp -a "$KEYED/." "$OUT/"
  echo "python bundle files in $OUT (recipe $RECIPE_HASH)"
}

if [[ -f "$KEYED/python.wasm" && -f "$KEYED/lib/python311.zip" && "${FORCE:-0}" != 1 ]]; then
  echo "python: cached build for recipe $RECIPE_HASH"
  [[ "$OUT" == "$KEYED" ]] || install_out
  exit 0
fi

start=$(date +%s)
for tool in clang-19 wasm-ld-19 llvm-ar-19 llvm-strip-19 dpkg-source tclsh /usr/bin/python3.11; do
  command -v "$tool" >/dev/null || { echo "python: missing build tool $tool" >&2; exit 2; }
done
[[ -x "$WIZER" ]] || { echo "python: missing $WIZER (npm install)" >&2; exit 2; }

"$HERE/recipe/fetch-sources.sh"

# A clean wasi-libc sysroot: Debian's clang would otherwise search /usr/include for wasm targets.
rm -rf "$B" && mkdir -p "$B"
export SYSROOT=$B/sysroot
mkdir -p "$SYSROOT/include" "$SYSROOT/lib"
cp -a /usr/include/wasm32-wasi "$SYSROOT/include/"
cp -a /usr/lib/wasm32-wasi "$SYSROOT/lib/"

# clang runs any `wasm-opt` on PATH after linking when optimizing; an older binaryen (Debian 12's 108)
# fails on clang 19's output ("error parsing wasm"), which turns configure's link checks into a silent
# "no" (CPython then builds without _sqlite3). This stand-in keeps the linker's output as it is.
mkdir -p "$B/bin"
cat > "$B/bin/wasm-opt" <<'SHIM'
#!/bin/sh
in=""; out=""
while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift 2 ;; -*) shift ;; *) in="$1"; shift ;; esac; done
if [ -n "$out" ] && [ "$in" != "$out" ]; then cp "$in" "$out"; fi
SHIM
chmod +x "$B/bin/wasm-opt"
export PATH="$B/bin:$PATH"

"$HERE/recipe/build-deps.sh"
"$HERE/recipe/build-cpython.sh"

STAGE=$B/stage
rm -rf "$STAGE" && mkdir -p "$STAGE/lib/python3.11/lib-dynload"
: > "$STAGE/lib/python3.11/lib-dynload/.keep"
/usr/bin/python3.11 "$HERE/recipe/package-stdlib.py" "$B/cpython" "$HERE/lib" "$STAGE/lib"
# pip as CPython ships it (Lib/ensurepip/_bundled), for `python -m pip install` of local wheels.
cp "$B"/cpython/Lib/ensurepip/_bundled/pip-*-py3-none-any.whl "$STAGE/lib/python3.11/"

# Fixed timestamps before the snapshot: importlib caches directory mtimes in memory.
find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# Pre-initialize: run wizer.initialize (Py_Initialize + common imports) with the stdlib mapped at
# /usr/local, snapshot memory. The host import shadowbox.net_fetch is stubbed during init only.
"$WIZER" "$B/cpython/build/python.wasm" -o "$B/python-init.wasm" \
  -f wizer.initialize --allow-wasi --inherit-env=false --inherit-stdio=true \
  --mapdir "/usr/local::$STAGE" --preload "shadowbox=$HERE/recipe/host-stubs.wat" \
  --wasm-bulk-memory=true
llvm-strip-19 -o "$STAGE/python.wasm" "$B/python-init.wasm"

{
  echo "recipe $RECIPE_HASH"
  echo "cpython 3.11.2 (Debian python3.11 $(ls "$DL"/python3.11_*.dsc | sed 's/.*_//; s/\.dsc$//'))"
  for p in zlib bzip2 xz-utils sqlite3 wasi-libc; do
    echo "$p $(ls "$DL"/${p}_*.dsc | sed 's/.*_//; s/\.dsc$//')"
  done
  echo "clang $(clang-19 --version | head -n1)"
  echo "debian patches:"
  sed 's/^/  /' "$B/debian-patches.txt"
} > "$STAGE/BUILDINFO.txt"

rm -rf "$KEYED" && mkdir -p "$CACHE" && cp -a "$STAGE" "$KEYED"
find "$KEYED" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
echo "python: built in $(( $(date +%s) - start ))s: python.wasm $(stat -c %s "$KEYED/python.wasm") bytes," \
  "stdlib zip $(stat -c %s "$KEYED/lib/python311.zip") bytes"
[[ "$OUT" == "$KEYED" ]] || install_out
