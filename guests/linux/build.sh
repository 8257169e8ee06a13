#!/usr/bin/env bash
# Builds the inputs of the Linux boot tests from Debian's packages (nothing of it is committed):
#   build.sh [arm64|x86_64] [OUT]   (arm64 when no architecture is given; OUT defaults to out/ for
#                                    arm64 and out-x86_64/ for x86_64)
#   OUT/vmlinuz      the kernel of the current linux-image-arm64 (an arm64 Image with its header) or
#                    linux-image-amd64 (a bzImage)
#   OUT/initrd.gz    a gzip cpio initramfs: static busybox, the kernel modules
#                    virtio_mmio, virtio_pci, virtio_blk, virtio_console, crc32c and ext4 with their
#                    dependencies, an /init that mounts proc/sys/dev, loads the modules, prints the marker
#                    and starts a shell (Debian's amd64 kernel lacks VIRTIO_MMIO_CMDLINE_DEVICES, so on the
#                    x86 PC the virtio-mmio devices stay unseen until they are announced another way);
#                    on arm64 also the Crypto Extensions drivers, which /bin/load-ce loads (for --cpu max)
#   OUT/disk.img     an empty 64 MiB ext4 image for the virtio-blk round trip
# Packages are fetched with apt into a private apt state (the host's dpkg configuration is not
# touched). Needs: apt-get, dpkg-deb, cpio, gzip, xz, mke2fs (e2fsprogs). Exit code 3 when the
# packages cannot be fetched, so that a test can skip with a clear message.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
arch=arm64
case "${1:-}" in
  arm64|x86_64) arch=$1; shift ;;
esac
case "$arch" in
  arm64) debarch=arm64; default_out=$here/out ;;
  x86_64) debarch=amd64; default_out=$here/out-x86_64 ;;
esac
out=${1:-$default_out}
marker="SOFTKVM-LINUX-BOOT-OK"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in apt-get dpkg-deb cpio gzip xz mke2fs; do
  command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is missing (apt-get install cpio xz-utils e2fsprogs)" >&2; exit 2; }
done

aptdir=$work/apt
mkdir -p "$aptdir/state/lists/partial" "$aptdir/cache/archives/partial"
: > "$aptdir/status"
apt_opts=(-o "Dir::State=$aptdir/state" -o "Dir::State::status=$aptdir/status" -o "Dir::Cache=$aptdir/cache"
          -o "APT::Architecture=$debarch" -o "APT::Architectures::=$debarch" -o "Debug::NoLocking=1" -q)
if ! apt-get "${apt_opts[@]}" update >"$work/apt.log" 2>&1; then
  echo "build.sh: apt-get update for $debarch failed (no package registry?)" >&2; tail -3 "$work/apt.log" >&2; exit 3
fi
kernel_pkg=$(apt-cache "${apt_opts[@]}" depends "linux-image-$debarch" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kernel_pkg" ] || { echo "build.sh: cannot resolve linux-image-$debarch" >&2; exit 3; }
(cd "$work" && apt-get "${apt_opts[@]}" download "$kernel_pkg" busybox-static) >"$work/apt.log" 2>&1 \
  || { echo "build.sh: downloading $kernel_pkg and busybox-static failed" >&2; tail -3 "$work/apt.log" >&2; exit 3; }

dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
dpkg-deb -x "$work"/busybox-static_*.deb "$work/busybox"
version=$(ls "$work/kernel/lib/modules")
cp "$work/kernel/boot/vmlinuz-$version" "$out/vmlinuz"

# The modules we need and their dependencies (the "depends=" field of each module's .modinfo), in
# load order. Debian ships no modules.dep (depmod writes it at install time).
moddir=$work/kernel/lib/modules/$version
find_module() { find "$moddir/kernel" -name "$1.ko*" | head -n 1; }
module_depends() { # the depends= list of a (possibly compressed) module
  case "$1" in
    *.xz) xz -dc "$1" ;;
    *.zst) zstd -qdc "$1" ;;
    *) cat "$1" ;;
  esac | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '
}
declare -A seen=()
order=()
add_module() { # module name
  local name=$1 file dep
  [ -n "${seen[$name]:-}" ] && return
  seen[$name]=1
  file=$(find_module "$name")
  if [ -z "$file" ]; then
    file=$(find_module "${name//_/-}")
  fi
  [ -n "$file" ] || { echo "build.sh: module $name is built into $version" >&2; return; }
  for dep in $(module_depends "$file"); do add_module "$dep"; done
  order+=("${file#$moddir/}")
}
for name in virtio_mmio virtio_pci virtio_blk virtio_console crc32c_generic ext4; do add_module "$name"; done
# arm64: the Crypto Extensions drivers (and what they need beyond the modules above), copied but not loaded:
# /bin/load-ce loads them, and the kernel's crypto manager self-tests each algorithm as it registers
# (/proc/crypto then says "selftest : passed"); on a CPU without the extensions they refuse to load.
init_order=("${order[@]}")
order=()
if [ "$arch" = arm64 ]; then
  for name in aes-ce-cipher aes-ce-blk aes-ce-ccm ghash-ce polyval-ce sha1-ce sha2-ce sha512-ce sha3-ce crct10dif-ce; do
    add_module "$name"
  done
fi
ce_order=("${order[@]}")
order=("${init_order[@]}")

root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,mnt,tmp,lib/modules}
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
for applet in sh mount umount insmod cat echo ls mkdir uname poweroff sync date dmesg sleep setsid cttyhack grep awk; do
  ln -sf busybox "$root/bin/$applet"
done
copy_modules() { # the modules' paths relative to moddir; prints their insmod lines
  local rel base
  for rel in "$@"; do
    base=$(basename "$rel"); base=${base%.xz}; base=${base%.zst}
    case "$rel" in
      *.xz) xz -dc "$moddir/$rel" > "$root/lib/modules/$base" ;;
      *.zst) zstd -qdc "$moddir/$rel" > "$root/lib/modules/$base" ;;
      *) cp "$moddir/$rel" "$root/lib/modules/$base" ;;
    esac
    echo "insmod /lib/modules/$base"
  done
}
loads=$(copy_modules "${order[@]}")
if [ ${#ce_order[@]} -gt 0 ]; then
  { echo '#!/bin/sh'; copy_modules "${ce_order[@]}"; echo 'echo CE-LOADED'; } > "$root/bin/load-ce"
  chmod +x "$root/bin/load-ce"
fi
cat > "$root/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
$loads
echo "$marker"
exec setsid cttyhack /bin/sh
INIT
chmod +x "$root/init"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --reproducible) | gzip -9n > "$out/initrd.gz"

rm -f "$out/disk.img"
mke2fs -q -t ext4 -F "$out/disk.img" 64M
echo "$version" > "$out/kernel-version"
echo "built $out: $arch kernel $version, $(du -h "$out/initrd.gz" | cut -f1) initramfs with ${#order[@]} modules (and ${#ce_order[@]} Crypto Extensions modules for /bin/load-ce), marker $marker"
