#!/usr/bin/env bash
# Side-by-side timing of SoftKvm and QEMU TCG on the same guest, alternating runs, medians.
#
#   bench/compare/compare-qemu.sh startup   [runs]        trivial guest (hello.elf): process start to power-off
#   bench/compare/compare-qemu.sh compute   [runs]        guests/arm64/compute.elf, 1 vCPU (its instruction count comes
#                                                         from the in-process benchmark `arm64-compute`)
#   bench/compare/compare-qemu.sh compute-half [runs]     guests/arm64/computehalf.elf (compute.c, 40 rounds: about half a
#                                                         second under QEMU, start-up included), 1 vCPU
#   bench/compare/compare-qemu.sh sgi N v2|v3 [runs]      guests/arm64/sgi/sgi.elf with N vCPUs
#   bench/compare/compare-qemu.sh linux N   [runs]        Debian kernel + initramfs (guests/linux/build.sh) to the marker
#   bench/compare/compare-qemu.sh linux-max N [runs]      the arm64 boot to the marker on `--cpu max,pauth=qarma5` and
#                                                         `--cpu max` (IMPDEF PAC) against SoftKvm's cortex-a57 and
#                                                         QEMU's `-cpu max`, the four alternating, with medians and the
#                                                         medians of the per-round ratios (SOFTKVM_LINUX_OUT: the inputs)
#   bench/compare/compare-qemu.sh linux-x86 N [runs]      the same for Debian's amd64 kernel (build.sh x86_64) on the PC,
#                                                         against qemu-system-x86_64 -M pc (TCG) (SOFTKVM_LINUX_OUT_X86: the inputs)
#   bench/compare/compare-qemu.sh mips      [runs]        guest MIPS side by side: computebench.elf (compute.c, 160 rounds)
#                                                         minus the start-up of hello.elf, on both sides
#   bench/compare/compare-qemu.sh mips-x86  [runs]        the same for x86: compute32bench.elf (40 rounds, 1.5G instructions)
#                                                         minus compute32.elf (one round) on both sides
#                                                         (qemu-system-x86_64 with isa-debug-exit)
#   bench/compare/compare-qemu.sh exits [arm64|x86|x86-32|x86-64|all] [runs]
#                                                         exit round trips as the guest sees them: guests/arm64/exits
#                                                         (2 vCPUs, GICv3), guests/x86/kvm/exits.elf (32-bit code, on
#                                                         ReadyToRun: the IL tier) and exits64.elf (the same rows in
#                                                         long mode, on NativeAOT: the native x86-64 engine; x86 runs
#                                                         both; 2 vCPUs; QEMU with pc-testdev as its VMM MMIO device), each row's
#                                                         median over the runs, the ratio of the medians and the
#                                                         median of the per-run ratios (runs alternate)
#
# Both sides are whole processes (start-up included); the "startup" mode gives what to subtract. The modes that
# compare whole runs print each pair, then the medians of wall and CPU time, their ratio and the median of the
# per-pair ratios.
# Needs qemu-system-aarch64/x86_64, GNU time and the .NET SDK; publishes softkvm once per checkout: NativeAOT for
# the arm64 modes and x86 Linux, ReadyToRun for the 32-bit x86 guests (use_build below; SOFTKVM_BUILD=aot|r2r|plain chooses,
# SOFTKVM_DLL=path/softkvm.dll or SOFTKVM_BIN=path/softkvm runs a build made elsewhere, e.g. the base of an A/B).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mode=${1:-compute}
# One build folder per checkout (two worktrees' runs must not time each other's builds).
art=${SOFTKVM_ARTIFACTS:-/tmp/softkvm-bench-$(printf %s "$root" | sha1sum | cut -c1-8)}
# use_build FORM: softkvm=(...) runs the build of FORM, published once per checkout:
#   aot    NativeAOT (the whole program compiled to one native executable for this host's instruction set): no
#          runtime start-up, no JIT; the form for arm64 guests and 64-bit x86 code (both engines generate
#          their own machine code)
#   r2r    ReadyToRun (precompiled, the JIT recompiles hot methods): the form for 32-bit x86 guests, whose
#          translated blocks are .NET IL that needs the JIT (under NativeAOT they are only interpreted)
#   plain  the Release build `dotnet run` makes
# SOFTKVM_BUILD=FORM overrides the mode's choice; SOFTKVM_DLL=path/softkvm.dll (run with dotnet) or
# SOFTKVM_BIN=path/softkvm (a NativeAOT executable) times a build made elsewhere, for an A/B comparison.
use_build() {
  if [ -n "${SOFTKVM_BIN:-}" ]; then softkvm=("$SOFTKVM_BIN" run); return; fi
  if [ -n "${SOFTKVM_DLL:-}" ]; then softkvm=(dotnet "$SOFTKVM_DLL" run); return; fi
  local form=${SOFTKVM_BUILD:-$1}
  [ "${SOFTKVM_R2R:-1}" = 0 ] && form=plain # the older switch
  case "$form" in
    aot)
      [ -n "${built_aot:-}" ] ||
        dotnet publish "$root/src/SoftKvm.Cli" -c Release --use-current-runtime -p:PublishAot=true \
          --artifacts-path "$art" -o "$art/aot" -v q -nologo >/dev/null
      built_aot=1; softkvm=("$art/aot/softkvm" run) ;;
    r2r)
      [ -n "${built_r2r:-}" ] ||
        dotnet publish "$root/src/SoftKvm.Cli" -c Release --use-current-runtime --self-contained false \
          -p:PublishReadyToRun=true --artifacts-path "$art" -o "$art/r2r" -v q -nologo >/dev/null
      built_r2r=1; softkvm=(dotnet "$art/r2r/softkvm.dll" run) ;;
    plain)
      [ -n "${built_plain:-}" ] || dotnet build "$root/src/SoftKvm.Cli" -c Release --artifacts-path "$art" -v q -nologo >/dev/null
      built_plain=1; softkvm=(dotnet "$art/bin/SoftKvm.Cli/release/softkvm.dll" run) ;;
    *) echo "SOFTKVM_BUILD: aot, r2r or plain, not '$form'" >&2; exit 2 ;;
  esac
}
qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57 -nographic -m 512)

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# time_until CMD... : "WALL CPU": seconds until the command exits, or until it prints $marker when that is set
# (the guest is then ended), and the CPU seconds (user + system) the command used, from its rusage (GNU time
# around it: exact also for a command ended at the marker, since ending it lets time collect it); its output
# goes to $log
time_until() {
  local start end pid tf cpu
  tf=$(mktemp)
  : >"$log" # emptied here: the background job's own truncation may come after the first look for the marker
  start=$(now)
  /usr/bin/time -o "$tf" -f '%U %S' timeout 900 "$@" </dev/null >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [ -n "${marker:-}" ] && grep -q "$marker" "$log"; then
      break
    fi
    sleep 0.02
  done
  end=$(now)
  pkill -TERM -P "$pid" 2>/dev/null || true # timeout: it passes the signal on and waits for the command
  wait "$pid" 2>/dev/null || true
  cpu=$(tail -n 1 "$tf" | awk '{print $1 + $2}')
  rm -f "$tf"
  echo "$(echo "$end - $start" | bc -l) $cpu"
}

compare() { # name runs softkvm-args -- qemu-args
  local name=$1 runs=$2; shift 2
  local sk=() q=() side=sk
  for a in "$@"; do
    if [ "$a" = "--" ]; then side=q; continue; fi
    if [ $side = sk ]; then sk+=("$a"); else q+=("$a"); fi
  done
  local pairs a b
  pairs=$(mktemp)
  log=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    a=$(time_until "${softkvm[@]}" "${sk[@]}")
    b=$(time_until "${qemu[@]}" "${q[@]}")
    echo "$a $b" >>"$pairs" # softkvm wall, cpu, qemu wall, cpu
    printf '  pair %d: softkvm %.2f s wall %.2f s CPU, qemu %.2f s wall %.2f s CPU\n' $((i + 1)) $a $b
  done
  local skm qm skc qc wr cr
  skm=$(awk '{print $1}' "$pairs" | median); skc=$(awk '{print $2}' "$pairs" | median)
  qm=$(awk '{print $3}' "$pairs" | median); qc=$(awk '{print $4}' "$pairs" | median)
  wr=$(awk '$3 > 0 {print $1 / $3}' "$pairs" | median); cr=$(awk '$4 > 0 {print $2 / $4}' "$pairs" | median)
  printf '%-28s wall: softkvm %8.3f s   qemu %8.3f s   softkvm/qemu %.2f (median of the pairs %.2f)\n' \
    "$name" "$skm" "$qm" "$(awk -v a="$skm" -v b="$qm" 'BEGIN {print (b > 0 ? a / b : 0)}')" "$wr"
  printf '%-28s CPU:  softkvm %8.3f s   qemu %8.3f s   softkvm/qemu %.2f (median of the pairs %.2f)   (medians of %d, alternating)\n' \
    "" "$skc" "$qc" "$(awk -v a="$skc" -v b="$qc" 'BEGIN {print (b > 0 ? a / b : 0)}')" "$cr" "$runs"
  rm -f "$log" "$pairs"
}

# mips NAME RUNS BENCH_ELF BASE_ELF : guest MIPS of both sides. The instruction count of BENCH_ELF comes
# from `softkvm run --profile` (the same program executes the same instructions under QEMU); each
# side's time is the median whole-process time of BENCH_ELF minus the median of BASE_ELF (start-up and
# the guest's own short run), alternating runs.
mips() {
  local name=$1 runs=$2 bench=$3 base=$4
  local insns base_insns
  # (an x86 guest ends through isa-debug-exit with a non-zero code: not a failure here)
  insns=$({ "${softkvm[@]}" --kernel "$bench" --profile </dev/null 2>/dev/null || true; } | sed -n 's/^  vcpu0: \([0-9,]*\) instructions.*/\1/p' | tr -d ,)
  base_insns=$({ "${softkvm[@]}" --kernel "$base" --profile </dev/null 2>/dev/null || true; } | sed -n 's/^  vcpu0: \([0-9,]*\) instructions.*/\1/p' | tr -d ,)
  [ -n "$insns" ] && [ -n "$base_insns" ] || { echo "could not count the instructions of $bench" >&2; exit 1; }
  local sk_b=() sk_0=() q_b=() q_0=()
  log=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    sk_b+=("$(time_until "${softkvm[@]}" --kernel "$bench" | cut -d' ' -f1)")
    q_b+=("$(time_until "${qemu[@]}" -kernel "$bench" | cut -d' ' -f1)")
    sk_0+=("$(time_until "${softkvm[@]}" --kernel "$base" | cut -d' ' -f1)")
    q_0+=("$(time_until "${qemu[@]}" -kernel "$base" | cut -d' ' -f1)")
  done
  rm -f "$log"
  local skb sk0 qb q0 n
  skb=$(printf '%s\n' "${sk_b[@]}" | median); sk0=$(printf '%s\n' "${sk_0[@]}" | median)
  qb=$(printf '%s\n' "${q_b[@]}" | median); q0=$(printf '%s\n' "${q_0[@]}" | median)
  n=$((insns - base_insns))
  local skm qm
  skm=$(echo "$n / ($skb - $sk0) / 1000000" | bc -l); qm=$(echo "$n / ($qb - $q0) / 1000000" | bc -l)
  printf '%s: %d instructions (%s minus %s)\n' "$name" "$n" "$(basename "$bench")" "$(basename "$base")"
  printf '  softkvm %8.3f s - %6.3f s  = %8.1f MIPS\n' "$skb" "$sk0" "$skm"
  printf '  qemu    %8.3f s - %6.3f s  = %8.1f MIPS\n' "$qb" "$q0" "$qm"
  printf '  softkvm/qemu %.3f   (medians of %d, alternating)\n' "$(echo "$skm / $qm" | bc -l)" "$runs"
}

# exit_rows NAME RUNS SOFTKVM-ARGS -- QEMU-ARGS: runs the exit micro-benchmark guest alternately under both
# and prints its rows ("  key what ... N ns") as a table of medians and ratios.
exit_rows() {
  local name=$1 runs=$2; shift 2
  local sk=() q=() side=sk
  for a in "$@"; do
    if [ "$a" = "--" ]; then side=q; continue; fi
    if [ $side = sk ]; then sk+=("$a"); else q+=("$a"); fi
  done
  local rows out
  rows=$(mktemp); out=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    for s in softkvm qemu; do
      if [ $s = softkvm ]; then
        timeout 900 "${softkvm[@]}" "${sk[@]}" </dev/null >"$out" 2>&1 || true
      else
        timeout 900 "${qemu[@]}" "${q[@]}" </dev/null >"$out" 2>&1 || true
      fi
      tr -d '\r' <"$out" | grep -q 'PASS' || { echo "$name: the $s run did not pass:" >&2; cat "$out" >&2; rm -f "$rows" "$out"; exit 1; }
      tr -d '\r' <"$out" | sed -n 's/^  \([a-z0-9-]*\)  *\(.*[^ ]\)  *\(-\{0,1\}[0-9.]*\) ns$/\1\t\2\t\3/p' |
        awk -F'\t' -v s=$s -v r=$i '{print s "\t" r "\t" NR "\t" $1 "\t" $2 "\t" $3}' >>"$rows"
    done
  done
  echo "$name: $runs alternating runs each; per row the median of the runs (ns per round trip as the guest sees it)"
  awk -F'\t' '
    function median(a, n,   i, j, t) {
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { key[$3] = $4; what[$3] = $5; v[$1, $3, $2] = $6; if ($3 > rows) rows = $3; if ($2 + 1 > runs) runs = $2 + 1 }
    END {
      printf "| %-11s | %-54s | %10s | %10s | %12s | %16s |\n", "row", "round trip", "SoftKvm", "QEMU TCG", "SoftKvm/QEMU", "median pair ratio"
      printf "|-------------|--------------------------------------------------------|-----------:|-----------:|-------------:|-----------------:|\n"
      for (r = 1; r <= rows; r++) {
        for (i = 0; i < runs; i++) { a[i + 1] = v["softkvm", r, i]; b[i + 1] = v["qemu", r, i]; c[i + 1] = b[i + 1] > 0 ? a[i + 1] / b[i + 1] : 0 }
        sm = median(a, runs); qm = median(b, runs); pr = median(c, runs)
        printf "| %-11s | %-54s | %7.1f ns | %7.1f ns | %11.2fx | %15.2fx |\n", key[r], what[r], sm, qm, (qm > 0 ? sm / qm : 0), pr
      }
    }' "$rows"
  rm -f "$rows" "$out"
}

case "$mode" in
  mips-x86) use_build r2r ;; # 32-bit code: the IL tier
  linux-x86) use_build aot ;; # 64-bit code: the native x86-64 engine (ReadyToRun measured 1.72x QEMU against 1.46x, 3 pairs each)
  exits) ;; # per architecture below
  *) use_build aot ;;
esac

case "$mode" in
  startup)
    compare "startup (hello.elf)" "${2:-7}" --kernel "$root/guests/arm64/hello/hello.elf" -- -kernel "$root/guests/arm64/hello/hello.elf" ;;
  compute)
    runs=${2:-5}
    compare "compute.elf (1 vCPU)" "$runs" --kernel "$root/guests/arm64/compute.elf" -- -kernel "$root/guests/arm64/compute.elf"
    echo "instruction count and SoftKvm's MIPS: dotnet run -c Release --project bench/SoftKvm.Benchmarks -- arm64-compute" ;;
  compute-half)
    compare "computehalf.elf (1 vCPU)" "${2:-5}" --kernel "$root/guests/arm64/computehalf.elf" -- -kernel "$root/guests/arm64/computehalf.elf" ;;
  sgi)
    n=${2:-64}; gic=${3:-v3}; runs=${4:-3}
    compare "sgi.elf ($n vCPUs, GIC$gic)" "$runs" --kernel "$root/guests/arm64/sgi/sgi.elf" --smp "$n" --gic "$gic" \
      -- -kernel "$root/guests/arm64/sgi/sgi.elf" -smp "$n" -M "virt,gic-version=${gic#v}" ;;
  linux)
    n=${2:-1}; runs=${3:-3}; out=$root/guests/linux/out
    [ -f "$out/vmlinuz" ] || "$root/guests/linux/build.sh"
    marker=SOFTKVM-LINUX-BOOT-OK
    compare "linux to marker ($n vCPUs)" "$runs" --kernel "$out/vmlinuz" --initrd "$out/initrd.gz" --append console=ttyAMA0 --smp "$n" \
      -- -M virt,gic-version=3 -smp "$n" -kernel "$out/vmlinuz" -initrd "$out/initrd.gz" -append console=ttyAMA0 ;;
  linux-max)
    n=${2:-1}; runs=${3:-3}; out=${SOFTKVM_LINUX_OUT:-$root/guests/linux/out}
    [ -f "$out/vmlinuz" ] || "$root/guests/linux/build.sh"
    marker=SOFTKVM-LINUX-BOOT-OK
    log=$(mktemp)
    boot=(--kernel "$out/vmlinuz" --initrd "$out/initrd.gz" --append console=ttyAMA0 --smp "$n")
    max=() imp=() a57=() qmax=()
    for ((i = 0; i < runs; i++)); do
      max+=("$(time_until "${softkvm[@]}" "${boot[@]}" --cpu max,pauth=qarma5)")
      imp+=("$(time_until "${softkvm[@]}" "${boot[@]}" --cpu max)")
      a57+=("$(time_until "${softkvm[@]}" "${boot[@]}" --cpu cortex-a57)")
      qmax+=("$(time_until qemu-system-aarch64 -M virt,gic-version=3 -cpu max -nographic -m 512 -smp "$n" \
        -kernel "$out/vmlinuz" -initrd "$out/initrd.gz" -append console=ttyAMA0)")
      printf 'round %d (wall cpu): max,pauth=qarma5 %s   max (impdef) %s   cortex-a57 %s   qemu max %s\n' \
        "$((i + 1))" "${max[$i]}" "${imp[$i]}" "${a57[$i]}" "${qmax[$i]}"
    done
    rm -f "$log"
    # field 1 is wall time, field 2 CPU time
    med() { local -n a=$1; printf '%s\n' "${a[@]}" | awk -v f="$2" '{print $f}' | median; }
    ratio() { local -n x=$1 y=$2; for ((i = 0; i < runs; i++)); do
      echo "$(echo "${x[$i]}" | awk -v f="$3" '{print $f}') / $(echo "${y[$i]}" | awk -v f="$3" '{print $f}')" | bc -l; done | median; }
    printf 'linux to marker (%d vCPUs), medians of %d rounds (the four alternating), wall / CPU seconds:\n' "$n" "$runs"
    printf '  softkvm --cpu max,pauth=qarma5 %7.2f / %7.2f   max (impdef) %7.2f / %7.2f   cortex-a57 %7.2f / %7.2f   qemu -cpu max %7.2f / %7.2f\n' \
      "$(med max 1)" "$(med max 2)" "$(med imp 1)" "$(med imp 2)" "$(med a57 1)" "$(med a57 2)" "$(med qmax 1)" "$(med qmax 2)"
    printf '  per-round ratios (medians, wall): qarma5/cortex-a57 %.2f   impdef/cortex-a57 %.2f   qarma5/qemu max %.2f   impdef/qemu max %.2f\n' \
      "$(ratio max a57 1)" "$(ratio imp a57 1)" "$(ratio max qmax 1)" "$(ratio imp qmax 1)" ;;
  linux-x86)
    n=${2:-1}; runs=${3:-3}; out=${SOFTKVM_LINUX_OUT_X86:-$root/guests/linux/out-x86_64}
    [ -f "$out/vmlinuz" ] || "$root/guests/linux/build.sh" x86_64
    marker=SOFTKVM-LINUX-BOOT-OK
    qemu=(qemu-system-x86_64 -M pc -nographic -m 512)
    softkvm+=(--arch x86_64 --memory 512M)
    compare "linux-x86 to marker ($n vCPUs)" "$runs" --kernel "$out/vmlinuz" --initrd "$out/initrd.gz" --append console=ttyS0 --smp "$n" \
      -- -smp "$n" -kernel "$out/vmlinuz" -initrd "$out/initrd.gz" -append console=ttyS0 ;;
  mips)
    mips "arm64 compute (1 vCPU)" "${2:-5}" "$root/guests/arm64/computebench.elf" "$root/guests/arm64/hello/hello.elf" \
      "${qemu[@]}" ;;
  mips-x86)
    qemu=(qemu-system-x86_64 -nographic -m 128 -device isa-debug-exit,iobase=0xf4,iosize=4)
    softkvm+=(--arch x86_64 --memory 128M)
    mips "x86 compute32 (1 vCPU)" "${2:-5}" "$root/guests/x86/compute32bench.elf" "$root/guests/x86/compute32.elf" \
      "${qemu[@]}" ;;
  exits)
    arch=${2:-all}; runs=${3:-3}
    if [ "$arch" = arm64 ] || [ "$arch" = all ]; then
      use_build aot
      exit_rows "arm64 exits (guests/arm64/exits/exits.elf, 2 vCPUs, GICv3)" "$runs" \
        --kernel "$root/guests/arm64/exits/exits.elf" --smp 2 --gic v3 --memory 128M \
        -- -M virt,gic-version=3 -smp 2 -m 128 -kernel "$root/guests/arm64/exits/exits.elf"
    fi
    qemu=(qemu-system-x86_64 -display none -monitor none -serial stdio -m 128 -smp 2
          -device isa-debug-exit,iobase=0xf4,iosize=4 -device pc-testdev)
    if [ "$arch" = x86 ] || [ "$arch" = x86-32 ] || [ "$arch" = all ]; then
      use_build r2r # 32-bit code: the IL tier
      softkvm+=(--arch x86_64 --memory 128M --smp 2 --x86-virtio mmio) # its VMM MMIO device: the virtio-mmio window
      exit_rows "x86 exits, 32-bit code (guests/x86/kvm/exits.elf, 2 vCPUs)" "$runs" --kernel "$root/guests/x86/kvm/exits.elf" \
        -- -kernel "$root/guests/x86/kvm/exits.elf"
    fi
    if [ "$arch" = x86 ] || [ "$arch" = x86-64 ] || [ "$arch" = all ]; then
      use_build aot # 64-bit code: the native x86-64 engine, as x86 Linux runs
      softkvm+=(--arch x86_64 --memory 128M --smp 2 --x86-virtio mmio)
      exit_rows "x86 exits, long mode (guests/x86/kvm/exits64.elf, 2 vCPUs)" "$runs" --kernel "$root/guests/x86/kvm/exits64.elf" \
        -- -kernel "$root/guests/x86/kvm/exits64.elf"
    fi ;;
  *) echo "usage: $0 startup|compute|compute-half|sgi N v2|v3|linux N|linux-max N|linux-x86 N|mips|mips-x86|exits [arm64|x86|x86-32|x86-64|all] [runs]" >&2; exit 2 ;;
esac
