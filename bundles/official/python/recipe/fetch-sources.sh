#!/usr/bin/env bash
# Downloads the pinned Debian source packages into $DL (a cache that survives rebuilds).
# Uses a private apt configuration (its own sources.list, lists and cache under $APT_DIR), so the
# system apt configuration is never changed. apt verifies the Sources index against Debian's
# signed Release files, and dpkg-source checks every tarball against the .dsc checksums.
set -euo pipefail

: "${DL:?DL must be set}" "${APT_DIR:?APT_DIR must be set}"

# Pinned versions (bookworm / bookworm-security as of 2026-05). Change here = new recipe hash.
PACKAGES=(
  "python3.11=3.11.2-6+deb12u8"
  "zlib=1:1.2.13.dfsg-1"
  "bzip2=1.0.8-5"
  "xz-utils=5.4.1-1+deb12u2"
  "sqlite3=3.40.1-2+deb12u2"
  "wasi-libc=0.0~git20220510.9886d3d-2"
)

dsc_name() { # "pkg=epoch:ver" -> pkg_ver.dsc (epoch dropped, as in Debian file names)
  local pkg=${1%%=*} ver=${1#*=}
  echo "${pkg}_${ver#*:}.dsc"
}

missing=()
for p in "${PACKAGES[@]}"; do
  [[ -f "$DL/$(dsc_name "$p")" ]] || missing+=("$p")
done
if (( ${#missing[@]} == 0 )); then
  echo "sources: all ${#PACKAGES[@]} source packages cached in $DL"
  exit 0
fi

mkdir -p "$DL" "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
cat > "$APT_DIR/sources.list" <<'EOF'
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian-security bookworm-security main
EOF
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APT_DIR/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$APT_DIR/lists"
  -o "Dir::Cache=$APT_DIR/cache"
  -o "APT::Sandbox::User=root"
)
echo "sources: fetching ${missing[*]}"
apt-get -q "${APT_OPTS[@]}" update >/dev/null
(cd "$DL" && apt-get -q "${APT_OPTS[@]}" source --download-only "${missing[@]}")
