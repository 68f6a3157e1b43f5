#!/usr/bin/env bash
# Build the Debian package of hardened into target/debian/ with cargo-deb:
#
#   scripts/package.sh                build, generate, package, then lintian
#   scripts/package.sh --no-lintian   the same without lintian
#   scripts/package.sh --no-build     package target/release/hardened as it is (the package
#                                     test: cargo test has just built it)
#   scripts/package.sh --output DIR   write the .deb into DIR instead of target/debian/
#
# Steps: `cargo build --release`; `make generated` (the man pages and the bash, zsh and fish
# completions, written by the binary just built: they document exactly what ships); a Debian
# changelog for this version (from Cargo.toml: one entry pointing to CHANGELOG.md); `cargo deb
# --no-build` with the metadata in Cargo.toml's [package.metadata.deb] (files, conffile,
# maintainer scripts in packaging/debian/, Depends computed with dpkg-shlibdeps); lintian with
# the package's overrides (packaging/lintian-overrides, each with its reason), failing on
# errors and warnings.
#
# cargo-deb comes from crates.io, pinned: installed with `cargo install --locked` when missing
# or at another version. Debian tools it needs (dpkg-dev, lintian, make) come from
# scripts/deps.sh. Nothing is written outside target/ and ~/.cargo (cargo install).
# The last line on stdout is the path of the .deb.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cargo_deb_version=3.8.0
run_lintian=true
build=true
out=target/debian
while [ $# -gt 0 ]; do
  case $1 in
    --no-lintian) run_lintian=false ;;
    --no-build) build=false ;;
    --output) out=${2:?--output needs a directory}; shift ;;
    *) echo "package.sh: unknown argument $1 (--no-lintian, --no-build, --output DIR)" >&2; exit 2 ;;
  esac
  shift
done

have=$(cargo deb --version 2>/dev/null || true)
if [ "${have##* }" != "$cargo_deb_version" ]; then
  echo "package.sh: installing cargo-deb $cargo_deb_version from crates.io (found: ${have:-none})" >&2
  timeout 1800 cargo install --locked --version "$cargo_deb_version" cargo-deb >&2
fi
for tool in dpkg-shlibdeps make; do
  command -v "$tool" >/dev/null || {
    echo "package.sh: $tool not found: apt-get install dpkg-dev make (scripts/deps.sh test)" >&2
    exit 1
  }
done

if $build; then
  cargo build --release >&2
elif [ ! -x target/release/hardened ]; then
  echo "package.sh: --no-build, but target/release/hardened is missing: cargo build --release" >&2
  exit 1
fi
make --no-print-directory generated >&2

# The package's version is Cargo.toml's (cargo-deb adds the Debian revision -1).
meta=$(cargo metadata --no-deps --format-version 1)
version=$(jq -r '.packages[] | select(.name == "hardened") | .version' <<<"$meta")
maintainer=$(jq -r '.packages[] | select(.name == "hardened") | .metadata.deb.maintainer' <<<"$meta")
# The date of the commit built, so that the same commit gives the same changelog.
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
printf '%s\n' \
  "hardened ($version-1) unstable; urgency=medium" \
  "" \
  "  * Upstream version $version; the changes are in" \
  "    /usr/share/doc/hardened/CHANGELOG.md." \
  "" \
  " -- $maintainer  $date" > target/generated/changelog.Debian

mkdir -p "$out"
rm -f "$out"/hardened_*.deb
cargo deb --no-build --no-strip --output "$out" >&2
deb=$(ls "$out"/hardened_"$version"-1_*.deb)

if $run_lintian; then
  command -v lintian >/dev/null || {
    echo "package.sh: lintian not found: apt-get install lintian (scripts/deps.sh test)" >&2
    exit 1
  }
  # As root lintian wants --allow-root; it only reads the package.
  lintian --allow-root --fail-on error,warning --info "$deb" >&2
fi
echo "$deb"
