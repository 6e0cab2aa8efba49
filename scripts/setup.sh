#!/usr/bin/env bash
# Installs everything shadowbox needs on a fresh Debian 12 machine: system packages (the wasm32-wasi
# toolchain, git, gcc and tcl for the host-side steps of the sqlite and CPython recipes, Chromium for the
# browser tests, tmux for the terminal tests, neovim for the language-server test, bubblewrap + attr +
# util-linux for the host command sandbox and socat for its network bridge), npm packages, the build, the
# official WASI bundles.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
PKGS=(git ca-certificates clang-19 lld-19 llvm-19 wasi-libc libclang-rt-19-dev-wasm32 dpkg-dev quilt gcc libc6-dev tcl chromium tmux neovim python3 make bubblewrap attr util-linux socat)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: build"
npm run build --silent

# The official WASI bundles (sandboxed tools, CPython), built here from Debian source packages with
# clang-19 for wasm32-wasi and signed with this checkout's local build key. Cached by recipe hash.
echo "setup: bundles (jq, sqlite, python)"
node bundles/scripts/build.mjs jq sqlite python
