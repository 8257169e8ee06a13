#!/usr/bin/env bash
# Snapshot and restore times of two builds, alternating whole processes (docs/snapshots.md#figures): each pair
# snapshots with A then B (a fresh boot each), then restores A's file and B's file; medians of each side and the
# median of the per-pair ratios B/A. A build reads only its own format version, so each restores its own file.
#
#   bench/compare/snapshot-ab.sh A/softkvm.dll B/softkvm.dll [pairs] [restores-per-pair]
#
# The guest is Debian's arm64 kernel (guests/linux/build.sh; LINUX_DIR names its output folder, default
# guests/linux/out) on 2 vCPUs with 512 MiB and a virtio disk, snapshotted at the boot marker; each restore is
# powered off at once through the console. The disk image is copied, so other runs sharing it are not disturbed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
a=$1; b=$2; pairs=${3:-3}; restores=${4:-2}
dir=${LINUX_DIR:-$root/guests/linux/out}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$dir/disk.img" "$work/disk.img"
run=(--kernel "$dir/vmlinuz" --initrd "$dir/initrd.gz" --append console=ttyAMA0 --smp 2 --memory 512M --disk "$work/disk.img")
# "... in N ms (M ms CPU)" -> "N M"
times() { sed -n 's/.* in \([0-9]*\) ms (\([0-9]*\) ms CPU).*/\1 \2/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
restore() { # dll file -> "wall cpu"
  mkfifo "$work/in"
  (sleep 3; echo "poweroff -f"; sleep 60) > "$work/in" & local writer=$!
  timeout 60 dotnet "$1" restore "$2" < "$work/in" 2>&1 > /dev/null | times || true
  kill "$writer" 2>/dev/null || true
  rm -f "$work/in"
}
for side in a b; do : > "$work/save-$side"; : > "$work/load-$side"; : > "$work/size-$side"; done
for i in $(seq "$pairs"); do
  for side in a b; do
    dll=$a; [ "$side" = b ] && dll=$b
    dotnet "$dll" run "${run[@]}" --serial none --snapshot "$work/$side.snap" --snapshot-on-output SOFTKVM-LINUX-BOOT-OK < /dev/null 2>&1 | times >> "$work/save-$side"
    stat -c %s "$work/$side.snap" >> "$work/size-$side"
  done
  for j in $(seq "$restores"); do
    restore "$a" "$work/a.snap" >> "$work/load-a"
    restore "$b" "$work/b.snap" >> "$work/load-b"
  done
done
ratio() { paste -d' ' "$work/$1-a" "$work/$1-b" | awk '{print $3 / $1}' | median; }
echo "$pairs pairs ($restores restores of each snapshot per pair), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for side in a b; do
  echo "$side: snapshot median $(cut -d' ' -f1 "$work/save-$side" | median) ms wall ($(cut -d' ' -f2 "$work/save-$side" | median) ms CPU), each: $(cut -d' ' -f1 "$work/save-$side" | tr '\n' ' ')"
  echo "$side: restore  median $(cut -d' ' -f1 "$work/load-$side" | median) ms wall ($(cut -d' ' -f2 "$work/load-$side" | median) ms CPU), each: $(cut -d' ' -f1 "$work/load-$side" | tr '\n' ' ')"
  echo "$side: file     median $(median < "$work/size-$side") bytes"
done
echo "B/A per-pair ratio medians: snapshot $(ratio save), restore $(ratio load)"
