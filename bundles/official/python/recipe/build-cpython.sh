#!/usr/bin/env bash
# Builds CPython 3.11.2 (Debian python3.11 source package + its upstream security fixes) for
# wasm32-wasi with shadowbox's entry point and _shadowbox module compiled in.
# Output: $B/cpython/python.wasm (unstripped, not yet pre-initialized). Inputs as build-deps.sh.
set -euo pipefail

: "${DL:?}" "${B:?}" "${SYSROOT:?}" "${HERE:?}" "${JOBS:?}"
DEPS=$B/deps
PY=$B/cpython
rm -rf "$PY"
dpkg-source --no-check --skip-patches -x "$(ls "$DL"/python3.11_*.dsc | head -n1)" "$PY" >/dev/null
cd "$PY"

# Debian's series has packaging patches first (install layout, multiarch, distutils, ...), then
# upstream fixes and CVE backports starting at shutdown-deadlock.diff. Apply the second block:
# every patch must apply cleanly, and the list is recorded in the bundle (debian-patches.txt).
: > "$B/debian-patches.txt"
started=0
while read -r p; do
  [[ -z "$p" || "$p" == \#* ]] && continue
  [[ "$p" == shutdown-deadlock.diff ]] && started=1
  (( started )) || continue
  if patch -s -p1 --forward --dry-run < "debian/patches/$p" >/dev/null 2>&1; then
    patch -s -p1 --forward < "debian/patches/$p" >/dev/null
    echo "applied $p" >> "$B/debian-patches.txt"
  else
    echo "skipped $p (does not apply)" >> "$B/debian-patches.txt"
  fi
done < debian/patches/series
echo "cpython: $(grep -c ^applied "$B/debian-patches.txt") Debian patches applied, $(grep -c ^skipped "$B/debian-patches.txt" || true) skipped"

# shadowbox's entry point and host module.
cp "$HERE/runtime/shadowbox_main.c" Programs/python.c
cp "$HERE/runtime/_shadowboxmodule.c" Modules/_shadowboxmodule.c
mkdir -p build/Modules
# _testcapi too: CPython's own tests need it (test_sqlite3 imports INT_MAX from it).
printf '_shadowbox _shadowboxmodule.c\n_testcapi _testcapimodule.c\n' > build/Modules/Setup.local

export CONFIG_SITE=$PY/Tools/wasm/config.site-wasm32-wasi
export CC="clang-19 --target=wasm32-wasi --sysroot=$SYSROOT"
export AR=llvm-ar-19 RANLIB=llvm-ranlib-19 READELF=true
# pkg-config would report the host's libraries (e.g. -luuid): only the flags below count.
export PKG_CONFIG=false
# wasi-libc declares memfd_create under _WASI_EMULATED_MMAN but does not implement it.
export ac_cv_func_memfd_create=no
export CPPFLAGS="-D_WASI_EMULATED_MMAN"
export CFLAGS="-O2 -ffile-prefix-map=$B=/build -mno-reference-types -mno-multivalue -D_WASI_EMULATED_MMAN \
  -Wno-error=int-conversion -Wno-error=incompatible-function-pointer-types"
export ZLIB_CFLAGS="-I$DEPS/include" ZLIB_LIBS="-L$DEPS/lib -lz"
export BZIP2_CFLAGS="-I$DEPS/include" BZIP2_LIBS="-L$DEPS/lib -lbz2"
export LIBLZMA_CFLAGS="-I$DEPS/include" LIBLZMA_LIBS="-L$DEPS/lib -llzma"
export LIBSQLITE3_CFLAGS="-I$DEPS/include" LIBSQLITE3_LIBS="-L$DEPS/lib -lsqlite3"
# These objects replace wasi-libc's copies (linked objects win over archive members).
export LIBS="$DEPS/lib/preopens.o $DEPS/lib/utimensat.o $DEPS/lib/futimens.o -lwasi-emulated-mman"

mkdir -p build && cd build
../configure -q --host=wasm32-unknown-wasi --build=x86_64-pc-linux-gnu \
  --with-build-python=/usr/bin/python3.11 --with-pymalloc --disable-ipv6 \
  --without-ensurepip --disable-test-modules >/dev/null
make -s -j"$JOBS" all >/dev/null
# configure drops a module whose library check fails without stopping: refuse a build without them.
for m in _sqlite3 zlib _bz2 _lzma _decimal _testcapi _shadowbox; do
  grep -q "PyInit_$m(" Modules/config.c || { echo "cpython: module $m was not built (see build/config.log)" >&2; exit 3; }
done
echo "cpython: python.wasm $(stat -c %s python.wasm) bytes"
