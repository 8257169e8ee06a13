#!/usr/bin/env bash
# Snapshot and restore times and file sizes (docs/snapshots.md#figures), as softkvm reports them (wall and
# CPU time of writing the snapshot, and of reading it and building the machine), medians over the runs.
#
#   bench/compare/snapshot-times.sh guest [runs]      guests/arm64/snapshot.elf, 128 MiB, at SNAPSHOT-MARKER
#   bench/compare/snapshot-times.sh x86   [runs]      guests/x86/compute32.elf, 64 MiB, at "crc32:"
#   bench/compare/snapshot-times.sh linux [runs]      Debian's arm64 kernel (guests/linux/build.sh), 2 vCPUs,
#                                                     512 MiB, a virtio disk, at the boot marker; each restore
#                                                     is powered off at once through the console
#
# Builds softkvm in Release once (SOFTKVM_DLL=path/softkvm.dll runs that build instead).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mode=${1:-guest}
runs=${2:-5}
if [ -n "${SOFTKVM_DLL:-}" ]; then
  dll=$SOFTKVM_DLL
else
  dotnet build "$root/src/SoftKvm.Cli" -c Release -v quiet -nologo > /dev/null
  dll=$root/src/SoftKvm.Cli/bin/Release/net10.0/softkvm.dll
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case "$mode" in
  guest) run=(--kernel "$root/guests/arm64/snapshot.elf" --memory 128M); text=SNAPSHOT-MARKER; input="" ;;
  x86) run=(--arch x86_64 --kernel "$root/guests/x86/compute32.elf" --memory 64M); text="crc32:"; input="" ;;
  linux)
    out=$root/guests/linux/out
    run=(--kernel "$out/vmlinuz" --initrd "$out/initrd.gz" --append console=ttyAMA0 --smp 2 --memory 512M --disk "$out/disk.img")
    text=SOFTKVM-LINUX-BOOT-OK; input="poweroff -f" ;;
  *) echo "unknown mode $mode (guest, x86 or linux)" >&2; exit 2 ;;
esac
# "... in N ms (M ms CPU)" -> "N M"
times() { sed -n 's/.* in \([0-9]*\) ms (\([0-9]*\) ms CPU).*/\1 \2/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
: > "$work/save"; : > "$work/load"; : > "$work/size"
for i in $(seq "$runs"); do
  dotnet "$dll" run "${run[@]}" --serial none --snapshot "$work/vm.snap" --snapshot-on-output "$text" < /dev/null 2>&1 | times >> "$work/save"
  stat -c %s "$work/vm.snap" >> "$work/size"
  if [ -n "$input" ]; then
    # Input after the restore message; the restored process ends with it, and then the writer is stopped.
    mkfifo "$work/in"
    (sleep 3; echo "$input"; sleep 60) > "$work/in" & writer=$!
    timeout 60 dotnet "$dll" restore "$work/vm.snap" < "$work/in" 2>&1 > /dev/null | times >> "$work/load" || true
    kill "$writer" 2>/dev/null || true
    rm -f "$work/in"
  else
    dotnet "$dll" restore "$work/vm.snap" < /dev/null 2>&1 > /dev/null | times >> "$work/load" || true
  fi
done
echo "mode $mode, $runs runs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "snapshot: median $(cut -d' ' -f1 "$work/save" | median) ms wall, $(cut -d' ' -f2 "$work/save" | median) ms CPU (each run: $(cut -d' ' -f1 "$work/save" | tr '\n' ' '))"
echo "restore:  median $(cut -d' ' -f1 "$work/load" | median) ms wall, $(cut -d' ' -f2 "$work/load" | median) ms CPU (each run: $(cut -d' ' -f1 "$work/load" | tr '\n' ' '))"
echo "file:     median $(median < "$work/size") bytes"
