#!/bin/sh
# The A64 differential test against QEMU user mode. Needs qemu-aarch64 and aarch64-linux-gnu-gcc.
#   tools/arm64-diff/run.sh [count] [seed]   live run of <count> generated instructions (default 100000)
#   tools/arm64-diff/run.sh golden           rewrite the committed golden vectors from QEMU
# Environment: ARM64DIFF_OPS=LdStPre,Csel,...  restrict generation to some decode-table ops (triage).
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
artifacts=${ARM64DIFF_ARTIFACTS:-/tmp/art-arm64diff}
cd "$root"
if [ "$1" = golden ]; then
    ARM64DIFF_WRITE_GOLDEN=1 dotnet test tests/SoftKvm.Arm64.Cpu.Tests --artifacts-path "$artifacts" \
        --filter "FullyQualifiedName~Differential.DifferentialTests.WriteGoldenVectors"
    exit
fi
ARM64DIFF_INSTRUCTIONS=${1:-100000} ARM64DIFF_SEED=${2:-} dotnet test tests/SoftKvm.Arm64.Cpu.Tests --artifacts-path "$artifacts" \
    --filter "FullyQualifiedName~Differential.DifferentialTests.LiveFixedSeed" --logger "console;verbosity=detailed"
