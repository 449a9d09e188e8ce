#!/usr/bin/env bash
# Builds djflow as a release binary linked with the static Swift standard library (and Foundation), so it
# runs on machines without a Swift toolchain (a cluster's login nodes), and installs it to PREFIX/bin.
#
# usage: scripts/install.sh [--prefix DIR]
#   --prefix DIR  install to DIR/bin/djflow (default: /usr/local as root, else ~/.local)
#
# Needs Swift 6.x where it builds; the installed binary needs only the C and C++ runtime libraries (glibc,
# libstdc++, libgcc_s, libm), as new as those of the build machine: built on Debian 12, it needs glibc 2.35
# and GCC 12's libstdc++ (Debian 12, Ubuntu 22.04 and later). For older login nodes, build it on (or in a
# container of) their distribution. Copy DIR/bin/djflow to other machines as it is. The build is
# incremental: a second run reuses .build/release.
set -euo pipefail

prefix=""
while (( $# )); do
  case $1 in
    --prefix) (( $# >= 2 )) || { echo "install.sh: --prefix needs a folder" >&2; exit 2; }; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h|--help) sed -n 's/^# \{0,1\}//; /^usage:/,/^$/p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "install.sh: unknown argument: $1 (usage: scripts/install.sh [--prefix DIR])" >&2; exit 2 ;;
  esac
done
if [[ -z $prefix ]]; then
  if (( EUID == 0 )); then prefix=/usr/local; else prefix=$HOME/.local; fi
fi

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
if ! command -v swift >/dev/null; then
  echo "install.sh: swift is not on PATH: build on a machine with Swift 6 (https://www.swift.org/install), then copy the binary" >&2
  exit 1
fi

flags=(-c release --static-swift-stdlib --product djflow)
start=$SECONDS
swift build "${flags[@]}"
binary="$(swift build "${flags[@]}" --show-bin-path)/djflow"
echo "install.sh: built $binary in $(( SECONDS - start )) s" >&2

# The point of the static build: no Swift runtime library may be needed at run time.
if command -v ldd >/dev/null && ldd "$binary" | grep -E 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime' >&2; then
  echo "install.sh: $binary still links the Swift libraries above dynamically" >&2
  exit 1
fi

# A binary that cannot validate the sample is never installed.
if ! "$binary" validate Samples/tutorial/djflow.yaml >/dev/null; then
  echo "install.sh: the built $binary fails on Samples/tutorial/djflow.yaml; not installed (try again after rm -rf .build/release .build/*/release)" >&2
  exit 1
fi

mkdir -p -- "$prefix/bin"
# Symbols are stripped from the installed copy (a quarter of its size); the build keeps them.
if command -v strip >/dev/null; then
  strip -o "$prefix/bin/djflow.new" -- "$binary"
  chmod 0755 -- "$prefix/bin/djflow.new"
else
  install -m 0755 -- "$binary" "$prefix/bin/djflow.new"
fi
mv -f -- "$prefix/bin/djflow.new" "$prefix/bin/djflow"
needs=""
if command -v objdump >/dev/null; then
  glibc=$(objdump -T "$prefix/bin/djflow" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
  if [[ -n $glibc ]]; then needs=", runs where glibc >= $glibc"; fi
fi
echo "install.sh: installed $prefix/bin/djflow ($("$prefix/bin/djflow" --version), $(( $(stat -c %s "$prefix/bin/djflow") / 1048576 )) MiB$needs)" >&2
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "install.sh: add $prefix/bin to PATH, e.g. export PATH=\"$prefix/bin:\$PATH\"" >&2 ;;
esac
