#!/usr/bin/env bash
# Builds the static wasm32-wasi libraries CPython links against, from Debian source packages:
# zlib, bzip2, liblzma (xz-utils), sqlite3 (amalgamation), and a patched wasi-libc preopens.o.
# Everything lands in $DEPS/{include,lib}. Inputs: $DL (downloaded .dsc + tarballs), $B (build
# root), $SYSROOT (clean wasi-libc copy), $HERE (recipe folder), $JOBS.
set -euo pipefail

: "${DL:?}" "${B:?}" "${SYSROOT:?}" "${HERE:?}" "${JOBS:?}"
DEPS=$B/deps
SRC=$B/src
mkdir -p "$DEPS/include" "$DEPS/lib" "$SRC"

WASM_CC="clang-19 --target=wasm32-wasi --sysroot=$SYSROOT"
WASM_CFLAGS="-O2 -ffile-prefix-map=$B=/build -mno-reference-types -mno-multivalue"
export AR=llvm-ar-19 RANLIB=llvm-ranlib-19

# Extract a Debian source package (applies its debian/patches) into $SRC/<name>, fresh.
extract() { # extract NAME DSC_GLOB
  local name=$1 dsc
  dsc=$(ls "$DL"/$2 | head -n1)
  rm -rf "${SRC:?}/$name"
  dpkg-source --no-check -x "$dsc" "$SRC/$name" >/dev/null
}

# ---- zlib -------------------------------------------------------------------------------------
extract zlib 'zlib_*.dsc'
(
  cd "$SRC/zlib"
  CC="$WASM_CC" CFLAGS="$WASM_CFLAGS -w" CHOST=wasm32 ./configure --static --prefix="$DEPS" >/dev/null
  make -s -j"$JOBS" libz.a >/dev/null
  cp libz.a "$DEPS/lib/" && cp zlib.h zconf.h "$DEPS/include/"
)
echo "deps: zlib ok"

# ---- bzip2 ------------------------------------------------------------------------------------
extract bzip2 'bzip2_*.dsc'
(
  cd "$SRC/bzip2"
  make -s -j"$JOBS" libbz2.a CC="$WASM_CC" AR="$AR" RANLIB="$RANLIB" \
    CFLAGS="$WASM_CFLAGS -D_FILE_OFFSET_BITS=64" >/dev/null 2>&1
  cp libbz2.a "$DEPS/lib/" && cp bzlib.h "$DEPS/include/"
)
echo "deps: bzip2 ok"

# ---- liblzma ----------------------------------------------------------------------------------
extract xz 'xz-utils_*.dsc'
(
  cd "$SRC/xz"
  patch -s -p1 < "$HERE/patches/xz-wasi-no-sigprocmask.patch"
  CC="$WASM_CC" CFLAGS="$WASM_CFLAGS" ./configure -q --host=wasm32-unknown-wasi --prefix="$DEPS" \
    --disable-shared --enable-static --disable-threads --disable-xz --disable-xzdec \
    --disable-lzmadec --disable-lzmainfo --disable-lzma-links --disable-scripts --disable-doc \
    --disable-nls --disable-rpath >/dev/null
  make -s -j"$JOBS" -C src/liblzma >/dev/null
  make -s -C src/liblzma install >/dev/null
)
echo "deps: liblzma ok"

# ---- sqlite3 (amalgamation generated with the host compiler + tclsh) --------------------------
extract sqlite 'sqlite3_*.dsc'
(
  cd "$SRC/sqlite"
  mkdir -p host && cd host
  ../configure -q --disable-tcl >/dev/null
  make -s sqlite3.c >/dev/null 2>&1
  $WASM_CC $WASM_CFLAGS -c sqlite3.c -o sqlite3.o -include "$HERE/runtime/sqlite-wasi-shim.h" \
    -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_OMIT_WAL \
    -DSQLITE_OMIT_RANDOMNESS -DSQLITE_MAX_MMAP_SIZE=0 \
    -DSQLITE_NOHAVE_SYSTEM -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_MATH_FUNCTIONS \
    -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_MMAN -D_WASI_EMULATED_PROCESS_CLOCKS \
    -D_WASI_EMULATED_SIGNAL
  llvm-ar-19 rcD "$DEPS/lib/libsqlite3.a" sqlite3.o
  cp sqlite3.h sqlite3ext.h "$DEPS/include/"
)
echo "deps: sqlite3 ok"

# ---- wasi-libc objects that replace the archive's (linked objects win over archive members) ---
# preopens.o: an idempotent preopen scan; utimensat.o/futimens.o: utime(path, None) sets "now"
# (the packaged build read times[0] through NULL and set both times to 0; see patches/).
extract wasi-libc 'wasi-libc_*.dsc'
(
  cd "$SRC/wasi-libc"
  patch -s -p1 < "$HERE/patches/wasi-libc-rescan-preopens.patch"
  patch -s -p1 < "$HERE/patches/wasi-libc-utimens-null.patch"
  $WASM_CC $WASM_CFLAGS -DNDEBUG -c libc-bottom-half/sources/preopens.c -o "$DEPS/lib/preopens.o"
  for f in utimensat futimens; do
    $WASM_CC $WASM_CFLAGS -DNDEBUG -I libc-bottom-half/cloudlibc/src -I libc-bottom-half/cloudlibc/src/include \
      -I libc-bottom-half/headers/private -c "libc-bottom-half/cloudlibc/src/libc/sys/stat/$f.c" -o "$DEPS/lib/$f.o"
  done
)
echo "deps: preopens.o utimensat.o futimens.o ok"
