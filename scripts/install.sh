#!/usr/bin/env bash
# Installs shadowbox from this checkout the way a release installs: set up (Debian packages, npm ci, build, the
# official bundles compiled from Debian sources; scripts/setup.sh), pack the release tarballs and check them in an
# empty prefix without compilers (scripts/release-check.sh), then `npm install -g` them. Once shadowbox is
# published, `npm install -g shadowbox` does the same without a checkout.
#   bash scripts/install.sh [--prefix DIR]     (default: npm's global prefix)
# The tarballs are signed by a throw-away root made for this install and shipped inside them (a local build, not
# an official release: see docs/bundles.md, "Releases").
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=()
if [[ "${1:-}" == --prefix ]]; then prefix=(--prefix "$2"); fi
bash scripts/setup.sh
out=$(mktemp -d /tmp/shadowbox-install.XXXXXX)
trap 'rm -rf "$out"' EXIT
bash scripts/release-check.sh --out "$out"
npm install -g --offline --no-audit --no-fund "${prefix[@]}" "$out"/*.tgz
echo "shadowbox installed: $(command -v shadowbox || echo "add ${2:-$(npm prefix -g)}/bin to PATH") — try: shadowbox demo"
