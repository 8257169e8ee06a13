using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.88 Loads and stores: register (all addressing forms), pair, literal, general and FP/SIMD
/// registers. Only single general-register forms without writeback give the hypervisor a valid
/// syndrome (ISV = 1); pairs, writeback forms and FP/SIMD accesses abort with ISV = 0
/// (docs/kvm-semantics.md#arm64-data-abort-syndrome).
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    /// <summary>The base register (SP when 31), with the SP alignment check of SCTLR_EL1.SA/SA0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool BaseAddress(int rn, out ulong address)
    {
        if (rn != 31)
        {
            address = State.X[rn];
            return true;
        }

        address = Sp;
        ulong check = State.El == 0 ? SctlrSa0 : SctlrSa;
        if ((address & 15) != 0 && (State.SctlrEl1 & check) != 0)
        {
            TakeSyncException(Esr.Make(Esr.EcSpAlign, 0), address, true);
            return false;
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong SignExtend(ulong value, int bits) => bits >= 64 ? value : (ulong)((long)(value << (64 - bits)) >> (64 - bits));

    private bool FpEnabled()
    {
        uint fpen = (uint)(State.CpacrEl1 >> 20) & 3;
        if (fpen == 3 || (fpen == 1 && State.El == 1))
        {
            return true;
        }

        TakeSyncException(Esr.Make(Esr.EcFpAccess, 0), 0, false);
        return false;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.LdStUnscaled, A64Op.LdStPost, A64Op.LdStUnpriv, A64Op.LdStPre, A64Op.LdStRegOffset, A64Op.LdStUnsignedOffset)]
    private Flow LoadStoreRegister(uint insn, A64Op op)
    {
        int size = (int)(insn >> 30);
        bool simd = ((insn >> 26) & 1) != 0;
        uint opc = (insn >> 22) & 3;
        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        bool load, signExtend = false, sixtyFour = false, prefetch = false;
        int sizeLog2 = size;
        if (!simd)
        {
            switch (opc)
            {
                case 0:
                    load = false;
                    sixtyFour = size == 3;
                    break;
                case 1:
                    load = true;
                    sixtyFour = size == 3;
                    break;
                case 2:
                    if (size == 3)
                    {
                        if (op is A64Op.LdStPost or A64Op.LdStPre or A64Op.LdStUnpriv)
                        {
                            return Undefined();
                        }

                        prefetch = true;
                        load = true;
                    }
                    else
                    {
                        load = true;
                        signExtend = true;
                        sixtyFour = true;
                    }

                    break;
                default:
                    if (size >= 2)
                    {
                        return Undefined();
                    }

                    load = true;
                    signExtend = true;
                    break;
            }
        }
        else
        {
            if (op == A64Op.LdStUnpriv)
            {
                return Undefined();
            }

            if ((opc & 2) != 0)
            {
                if (size != 0)
                {
                    return Undefined();
                }

                sizeLog2 = 4;
            }

            load = (opc & 1) != 0;
        }

        ulong offset;
        bool writeback = false, post = false, unprivileged = false;
        switch (op)
        {
            case A64Op.LdStUnsignedOffset:
                offset = ((insn >> 10) & 0xFFF) << sizeLog2;
                break;
            case A64Op.LdStRegOffset:
                uint option = (insn >> 13) & 7;
                if ((option & 2) == 0)
                {
                    return Undefined();
                }

                int shift = ((insn >> 12) & 1) != 0 ? sizeLog2 : 0;
                offset = ExtendReg(X((int)(insn >> 16) & 31), option, shift);
                break;
            default:
                offset = SignExtend((insn >> 12) & 0x1FF, 9);
                writeback = op is A64Op.LdStPost or A64Op.LdStPre;
                post = op == A64Op.LdStPost;
                // LDTR/STTR at EL1 are EL0 accesses, unless PSTATE.UAO makes them privileged ones (FEAT_UAO).
                unprivileged = op == A64Op.LdStUnpriv && State.El == 1 && (State.PstateFlags & Psr.Uao) == 0;
                break;
        }

        if (prefetch)
        {
            // A prefetch is a hint: no SP alignment check ("if memop != MemOp_PREFETCH then CheckSPAlignment()").
            return Flow.Next;
        }

        if (!BaseAddress(rn, out ulong baseAddress))
        {
            return Flow.Exception;
        }

        ulong address = post ? baseAddress : baseAddress + offset;
        if (simd)
        {
            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            if (!AccessVector(address, sizeLog2, rt, load))
            {
                return FaultFlow;
            }
        }
        else
        {
            uint iss = writeback ? 0 : Syndrome(sizeLog2, signExtend, rt, sixtyFour);
            int bytes = 1 << sizeLog2;
            if (load)
            {
                if (!Read(address, bytes, out ulong value, iss, unprivileged))
                {
                    return FaultFlow;
                }

                if (signExtend)
                {
                    value = SignExtend(value, 8 * bytes);
                }

                SetReg(rt, value, sixtyFour);
            }
            else if (!Write(address, bytes, X(rt), iss, unprivileged))
            {
                return FaultFlow;
            }
        }

        if (writeback)
        {
            SetXOrSp(rn, baseAddress + offset);
        }

        return Flow.Next;
    }

    /// <summary>Loads or stores B/H/S/D/Q register <paramref name="rt"/>; a load clears the rest of the register.</summary>
    private bool AccessVector(ulong address, int sizeLog2, int rt, bool load)
    {
        if (sizeLog2 == 4)
        {
            if (!CheckQuadAlignment(address, !load))
            {
                return false;
            }

            if (load)
            {
                if (!Read(address, 8, out ulong lo, 0) || !Read(address + 8, 8, out ulong hi, 0))
                {
                    return false;
                }

                State.V[2 * rt] = lo;
                State.V[(2 * rt) + 1] = hi;
                return true;
            }

            return Write(address, 8, State.V[2 * rt], 0) && Write(address + 8, 8, State.V[(2 * rt) + 1], 0);
        }

        int bytes = 1 << sizeLog2;
        if (load)
        {
            if (!Read(address, bytes, out ulong value, 0))
            {
                return false;
            }

            State.V[2 * rt] = value;
            State.V[(2 * rt) + 1] = 0;
            return true;
        }

        return Write(address, bytes, State.V[2 * rt], 0);
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.LdStPairNoAlloc, A64Op.LdStPairPost, A64Op.LdStPairOffset, A64Op.LdStPairPre)]
    private Flow LoadStorePair(uint insn, A64Op op)
    {
        uint opc = insn >> 30;
        bool simd = ((insn >> 26) & 1) != 0, load = ((insn >> 22) & 1) != 0;
        int rt = (int)insn & 31, rt2 = (int)(insn >> 10) & 31, rn = (int)(insn >> 5) & 31;
        int sizeLog2;
        bool signExtend = false;
        if (!simd)
        {
            if (opc == 1 && !load)
            {
                return StoreTagPair(insn, op); // STGP (FEAT_MTE), MemoryTagging.cs
            }

            if (opc == 3 || (opc == 1 && op == A64Op.LdStPairNoAlloc))
            {
                return Undefined();
            }

            sizeLog2 = opc == 2 ? 3 : 2;
            signExtend = opc == 1;
        }
        else
        {
            if (opc == 3)
            {
                return Undefined();
            }

            sizeLog2 = (int)opc + 2;
        }

        ulong offset = SignExtend((insn >> 15) & 0x7F, 7) << sizeLog2;
        bool writeback = op is A64Op.LdStPairPost or A64Op.LdStPairPre;
        bool post = op == A64Op.LdStPairPost;
        if (!BaseAddress(rn, out ulong baseAddress))
        {
            return Flow.Exception;
        }

        ulong address = post ? baseAddress : baseAddress + offset;
        int bytes = 1 << sizeLog2;
        if (simd)
        {
            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            if (load)
            {
                // Load into temporaries first so a fault on the second element changes nothing.
                ulong lo1 = 0, hi1 = 0, lo2 = 0, hi2 = 0;
                if (sizeLog2 == 4)
                {
                    if (!CheckQuadAlignment(address, false) || !CheckQuadAlignment(address + 16, false)
                        || !Read(address, 8, out lo1, 0) || !Read(address + 8, 8, out hi1, 0)
                        || !Read(address + 16, 8, out lo2, 0) || !Read(address + 24, 8, out hi2, 0))
                    {
                        return FaultFlow;
                    }
                }
                else if (!Read(address, bytes, out lo1, 0) || !Read(address + (ulong)bytes, bytes, out lo2, 0))
                {
                    return FaultFlow;
                }

                State.V[2 * rt] = lo1;
                State.V[(2 * rt) + 1] = hi1;
                State.V[2 * rt2] = lo2;
                State.V[(2 * rt2) + 1] = hi2;
            }
            else if (!AccessVector(address, sizeLog2, rt, false) || !AccessVector(address + (ulong)bytes, sizeLog2, rt2, false))
            {
                return FaultFlow;
            }
        }
        else if (load)
        {
            if (!Read(address, bytes, out ulong v1, 0) || !Read(address + (ulong)bytes, bytes, out ulong v2, 0))
            {
                return FaultFlow;
            }

            if (signExtend)
            {
                v1 = SignExtend(v1, 32);
                v2 = SignExtend(v2, 32);
            }

            bool wide = sizeLog2 == 3 || signExtend;
            SetReg(rt, v1, wide);
            SetReg(rt2, v2, wide);
        }
        else
        {
            ulong v1 = X(rt), v2 = X(rt2);
            if (!Write(address, bytes, v1, 0) || !Write(address + (ulong)bytes, bytes, v2, 0))
            {
                return FaultFlow;
            }
        }

        if (writeback)
        {
            SetXOrSp(rn, baseAddress + offset);
        }

        return Flow.Next;
    }

    [A64Handler(A64Op.LdrLit, A64Op.LdrswLit, A64Op.PrfmLit)]
    private Flow LoadLiteral(uint insn, A64Op op)
    {
        if (op == A64Op.PrfmLit)
        {
            return Flow.Next;
        }

        ulong address = State.Pc + (SignExtend((insn >> 5) & 0x7FFFF, 19) << 2);
        int rt = (int)insn & 31;
        bool wide = op == A64Op.LdrswLit || ((insn >> 30) & 1) != 0;
        int sizeLog2 = op == A64Op.LdrLit && wide ? 3 : 2;
        bool signExtend = op == A64Op.LdrswLit;
        if (!Read(address, 1 << sizeLog2, out ulong value, Syndrome(sizeLog2, signExtend, rt, wide)))
        {
            return FaultFlow;
        }

        SetReg(rt, signExtend ? SignExtend(value, 32) : value, wide);
        return Flow.Next;
    }

    [A64Handler(A64Op.LdrLitFp)]
    private Flow LoadLiteralFp(uint insn)
    {
        uint opc = insn >> 30;
        if (opc == 3)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        ulong address = State.Pc + (SignExtend((insn >> 5) & 0x7FFFF, 19) << 2);
        return AccessVector(address, (int)opc + 2, (int)insn & 31, true) ? Flow.Next : FaultFlow;
    }
}
