using System.Runtime.CompilerServices;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// The page walkers (SDM Vol. 3 chapter 4): 32-bit paging (with PSE), PAE and 4-level paging, reserved
/// bits, the U/S, R/W (with CR0.WP) and NX checks on the combined rights, atomic A/D updates, #PF error
/// codes, and an EPT-violation exit when a paging-structure entry lies outside RAM. Arm64Cpu.Mmu.cs is
/// the arm64 counterpart; the software TLB that caches the walks' results is in X86Cpu.Memory.cs.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private const ulong PteP = 1, PteRw = 2, PteUs = 4, PteA = 0x20, PteD = 0x40, PtePs = 0x80;
    private const ulong PteNx = 1UL << 63;
    private const int PhysAddrBits = 40;
    private const ulong PhysMask = ((1UL << PhysAddrBits) - 1) & ~0xFFFUL;

    private bool Walk(ulong linear, AccessKind kind, bool user, out ulong gpa, out bool large)
    {
        large = false;
        ulong cr0 = _regs.Cr0;
        if ((cr0 & 0x80000000) == 0)
        {
            gpa = _bitness == 64 ? linear : linear & 0xFFFFFFFF;
            return true;
        }

        bool write = kind == AccessKind.Write;
        bool nxe = (_regs.Efer & (1UL << 11)) != 0;
        ulong rsvdNx = nxe ? 0 : PteNx;
        ulong accumulated = PteRw | PteUs;
        bool nx = false;
        gpa = 0;
        Span<ulong> entries = stackalloc ulong[4];
        Span<ulong> addrs = stackalloc ulong[4];
        int levels;
        ulong leaf;
        int leafLevel;
        ulong offsetMask;

        if ((_regs.Efer & (1UL << 10)) != 0 || (_regs.Cr4 & 0x20) != 0)
        {
            // 4-level paging walks from the PML4 (level 3); PAE from its PDPTE to the page directory
            // (level 1). Below the top the entries and their reserved bits are the same.
            ulong table;
            int top;
            if ((_regs.Efer & (1UL << 10)) != 0)
            {
                table = _regs.Cr3 & PhysMask;
                top = 3;
            }
            else
            {
                ulong pdpteAddr = (_regs.Cr3 & 0xFFFFFFE0) + (((linear >> 30) & 3) << 3);
                if (!ReadPte(pdpteAddr, linear, out ulong pdpte))
                {
                    return false;
                }

                if ((pdpte & PteP) == 0)
                {
                    return PageFault(linear, kind, user, false, false);
                }

                if ((pdpte & (0x1E6UL | (0x000F_FFFF_FFFF_FFFFUL & ~((1UL << PhysAddrBits) - 1)) | PteNx)) != 0)
                {
                    return PageFault(linear, kind, user, true, true);
                }

                table = pdpte & PhysMask;
                top = 1;
            }

            levels = 0;
            for (int level = top; ; level--)
            {
                ulong addr = table + (((linear >> (12 + 9 * level)) & 0x1FF) << 3);
                if (!ReadPte(addr, linear, out ulong e))
                {
                    return false;
                }

                entries[levels] = e;
                addrs[levels++] = addr;
                if ((e & PteP) == 0)
                {
                    return PageFault(linear, kind, user, false, false);
                }

                ulong rsvd = (0x000F_FFFF_FFFF_FFFFUL & ~((1UL << PhysAddrBits) - 1)) | rsvdNx;
                if (level == 3 && (e & PtePs) != 0)
                {
                    rsvd |= PtePs;
                }
                else if ((level == 2 || level == 1) && (e & PtePs) != 0)
                {
                    rsvd |= ((1UL << (12 + 9 * level)) - 1) & ~0x1FFFUL;
                }

                if ((e & rsvd) != 0)
                {
                    return PageFault(linear, kind, user, true, true);
                }

                accumulated &= e;
                nx |= (e & PteNx) != 0 && nxe;
                if (level == 0 || (e & PtePs) != 0)
                {
                    leaf = e;
                    leafLevel = level;
                    break;
                }

                table = e & PhysMask;
            }

            offsetMask = (1UL << (12 + 9 * leafLevel)) - 1;
            gpa = (leaf & PhysMask & ~offsetMask) | (linear & offsetMask);
        }
        else
        {
            // 32-bit paging (PSE 4 MiB pages when CR4.PSE).
            linear &= 0xFFFFFFFF;
            ulong pdeAddr = (_regs.Cr3 & 0xFFFFF000) + ((linear >> 22) << 2);
            if (!ReadPte32(pdeAddr, linear, out ulong pde))
            {
                return false;
            }

            entries[0] = pde;
            addrs[0] = pdeAddr;
            levels = 1;
            if ((pde & PteP) == 0)
            {
                return PageFault(linear, kind, user, false, false);
            }

            accumulated &= pde;
            if ((pde & PtePs) != 0 && (_regs.Cr4 & 0x10) != 0)
            {
                leaf = pde;
                leafLevel = 1;
                gpa = (pde & 0xFFC00000) | ((pde & 0x1FE000) << 19) | (linear & 0x3FFFFF);
            }
            else
            {
                ulong pteAddr = (pde & 0xFFFFF000) + (((linear >> 12) & 0x3FF) << 2);
                if (!ReadPte32(pteAddr, linear, out ulong pte))
                {
                    return false;
                }

                entries[1] = pte;
                addrs[1] = pteAddr;
                levels = 2;
                if ((pte & PteP) == 0)
                {
                    return PageFault(linear, kind, user, false, false);
                }

                accumulated &= pte;
                leaf = pte;
                leafLevel = 0;
                gpa = (pte & 0xFFFFF000) | (linear & 0xFFF);
            }
        }

        // Permission checks on the combined rights.
        if (user && (accumulated & PteUs) == 0)
        {
            return PageFault(linear, kind, user, true, false);
        }

        if (write && (accumulated & PteRw) == 0 && (user || (cr0 & 0x10000) != 0))
        {
            return PageFault(linear, kind, user, true, false);
        }

        if (kind == AccessKind.Fetch && nx)
        {
            return PageFault(linear, kind, user, true, false);
        }

        // Accessed and dirty bits.
        bool is32 = (_regs.Efer & (1UL << 10)) == 0 && (_regs.Cr4 & 0x20) == 0;
        for (int i = 0; i < levels; i++)
        {
            bool isLeaf = i == levels - 1;
            ulong want = PteA | (isLeaf && write ? PteD : 0);
            if ((entries[i] & want) != want)
            {
                byte* p = _memory.TryGetHostPointer(addrs[i], true, out _);
                if (p != null)
                {
                    // Atomic, as the hardware's locked A/D update: another vCPU may be editing the entry.
                    if (is32)
                    {
                        Interlocked.Or(ref *(uint*)p, (uint)want);
                    }
                    else
                    {
                        Interlocked.Or(ref *(ulong*)p, want);
                    }
                }
            }
        }

        large = leafLevel > 0;
        return true;
    }

    private bool ReadPte(ulong gpa, ulong linear, out ulong e)
    {
        byte* p = _memory.TryGetHostPointer(gpa, false, out ulong avail);
        if (p == null || avail < 8)
        {
            e = 0;
            return EptExit(gpa, linear, AccessKind.Read, false, 8, 0);
        }

        e = Unsafe.ReadUnaligned<ulong>(p);
        return true;
    }

    private bool ReadPte32(ulong gpa, ulong linear, out ulong e)
    {
        byte* p = _memory.TryGetHostPointer(gpa, false, out ulong avail);
        if (p == null || avail < 4)
        {
            e = 0;
            return EptExit(gpa, linear, AccessKind.Read, false, 4, 0);
        }

        e = Unsafe.ReadUnaligned<uint>(p);
        return true;
    }

    private bool PageFault(ulong linear, AccessKind kind, bool user, bool present, bool reserved)
    {
        uint error = (present ? 1u : 0) | (kind == AccessKind.Write ? 2u : 0) | (user ? 4u : 0) | (reserved ? 8u : 0);
        if (kind == AccessKind.Fetch && ((_regs.Efer & (1UL << 11)) != 0 || (_regs.Cr4 & (1UL << 20)) != 0))
        {
            error |= 0x10;
        }

        _faultCr2 = linear;
        return Fault(ExceptionVector.PF, error, true);
    }

    /// <summary>Translates a linear address the way the guest would (for debuggers and the hypervisor);
    /// no A/D updates are skipped, no fault is delivered. Returns false when unmapped.</summary>
    public bool TryTranslate(ulong linear, bool write, out ulong gpa)
    {
        bool savedFault = _faulted, savedExit = _exitPending;
        var savedExitInfo = _exit;
        bool ok = Walk(linear, write ? AccessKind.Write : AccessKind.Read, false, out gpa, out _);
        _faulted = savedFault;
        _exitPending = savedExit;
        _exit = savedExitInfo;
        return ok;
    }
}
