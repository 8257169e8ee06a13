#!/usr/bin/env python3
"""Where the arm64 native engine's time goes, by guest instruction (docs/performance.md, "Host profiles").

usage: native-profile.py DIR [N] [BLOCK_PC]
DIR holds perf.data (perf record -e cpu-clock) and dump/ (SOFTKVM_CODE_DUMP) of the same run. Prints the
share of samples outside native code by object, native samples split into prologues, block bodies and
stubs/shared routines, the N guest instructions whose code (from the end of the one before to their own
end) took most, and with BLOCK_PC the hot offsets inside that block's code.
"""
import sys, subprocess, bisect, collections, re, os, glob
d = sys.argv[1]; N = int(sys.argv[2]) if len(sys.argv)>2 else 40
perf = d+'/perf.data'
blocks = {}  # offset -> (pc, size, [(end, pc, text)])
for f in glob.glob(d+'/dump/*.ir'):
    lines = open(f).read().splitlines()
    m = re.match(r'block (\w+) .* code offset (\w+) size (\d+)', lines[0])
    off = int(m.group(2),16); size=int(m.group(3))
    ins = []
    for l in lines[1:]:
        if not l.startswith(' '):
            p = l.split()
            ins.append((int(p[2][1:],16), p[0], ' '.join(p[1:])))
    ins.sort()
    code = open(f[:-3]+'.bin','rb').read()
    # body starts after the prologues: each is mov ecx,imm32 (5) + call rel32 (5) + jmp rel32 (5)
    entries = sum(1 for l in lines[1:] if not l.startswith(' ') and l.rstrip().endswith('entry'))
    blocks[off] = (m.group(1), size, ins, 15*entries)
starts = sorted(blocks)
mm = subprocess.run(['perf','script','-i',perf,'--show-mmap-events'], capture_output=True, text=True).stdout
base = 0
for l in mm.splitlines():
    if 'PERF_RECORD_MMAP' in l and 'softkvm-a64-code' in l:
        base = int(re.search(r'\[(0x[0-9a-f]+)\(', l).group(1),16); break
out = subprocess.run(['perf','script','-i',perf,'-F','ip,dso'], capture_output=True, text=True).stdout
insn = collections.Counter(); cat = collections.Counter(); other = collections.Counter(); total=0; blk=collections.Counter()
for l in out.splitlines():
    p = l.split(None,1)
    if len(p)<2: continue
    total += 1
    if 'softkvm-a64-code' not in p[1]:
        other[os.path.basename(p[1].strip(' ()'))] += 1; continue
    ip = int(p[0],16)-base
    i = bisect.bisect_right(starts, ip)-1
    if i < 0 or ip >= starts[i]+blocks[starts[i]][1]:
        other['shared routines'] += 1; continue
    b = blocks[starts[i]]; rel = ip-starts[i]
    blk[b[0]] += 1
    ends = [e[0] for e in b[2]]
    j = bisect.bisect_right(ends, rel)
    # the instruction whose end is the first > rel; body starts after prologues
    first = min(e[0] for e in b[2]) if b[2] else 0
    body0 = b[3]
    if rel < body0: key = 'prologue of ' + b[0]; cat['prologue'] += 1
    elif rel >= max(ends): key = 'stubs/routines of ' + b[0]; cat['stubs'] += 1
    else: key = b[2][j][1] + ' ' + b[2][j][2]; cat['body'] += 1
    insn[key] += 1
print('total samples', total)
for n,c in other.most_common(8): print(f'{100*c/total:5.1f}% {n}')
nat = sum(cat.values())
print('native', nat, ' '.join(f'{k} {100*v/nat:.1f}%' for k,v in cat.items()))
print('--- native, by guest instruction (the code ending at it)')
byaddr = collections.Counter()
for k,c in insn.items(): byaddr[k.split()[0]] += c
for k,c in insn.most_common(N): print(f'{100*c/total:5.1f}% {k}')
if len(sys.argv) > 3:
    want = sys.argv[3]
    offs = collections.Counter()
    for l in out.splitlines():
        p = l.split(None,1)
        if len(p)<2 or 'softkvm-a64-code' not in p[1]: continue
        ip = int(p[0],16)-base
        i = bisect.bisect_right(starts, ip)-1
        if i>=0 and blocks[starts[i]][0]==want: offs[ip-starts[i]] += 1
    for o,c in sorted(offs.items()): 
        if c >= 3: print(f'{o:x} {c}')
