#!/bin/sh
# Builds the arm64-diff reference harness (a static aarch64 Linux program run under qemu-aarch64).
# Usage: tools/arm64-diff/build.sh [output]   (default: /tmp/arm64-diff-ref)
set -e
here=$(dirname "$0")
out=${1:-/tmp/arm64-diff-ref}
aarch64-linux-gnu-gcc -static -O2 -Wall -Werror -o "$out" "$here/ref.c" "$here/ref_asm.S"
echo "$out"
