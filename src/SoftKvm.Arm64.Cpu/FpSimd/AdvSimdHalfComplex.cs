namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The half-precision forms of FEAT_FCMA (with FEAT_FP16): FCADD and FCMLA on 2 or 4 complex pairs of
/// half lanes, and FCMLA by element (the pair H:L of Vm, H = 0 when Q = 0). Decoded from the three same
/// (extra) and by-element classes in <c>AdvSimdThreeSameExtra.cs</c>.
/// </summary>
public sealed partial class Arm64Cpu
{
    /// <summary>FCMLA (vector, opcode 10rr) or FCADD (opcode 11r0), half precision.</summary>
    private Flow HalfComplexVector(bool q, int opcode, int rd, int rn, int rm)
    {
        if (HalfEnabled() is var flow && flow != Flow.Next)
        {
            return flow;
        }

        Vec vn = GetV(rn), vm = GetV(rm), vd = GetV(rd), res = default;
        uint fpcr = State.Fpcr;
        ref uint fpsr = ref State.Fpsr;
        for (int e = 0; e < (q ? 4 : 2); e++)
        {
            uint n0 = (uint)vn.Get(2 * e, 1), n1 = (uint)vn.Get((2 * e) + 1, 1);
            uint m0 = (uint)vm.Get(2 * e, 1), m1 = (uint)vm.Get((2 * e) + 1, 1);
            uint r0, r1;
            if ((opcode & 0xC) == 8)
            {
                (r0, r1) = HalfComplexMulAdd(n0, n1, m0, m1, (uint)vd.Get(2 * e, 1), (uint)vd.Get((2 * e) + 1, 1), opcode & 3);
            }
            else
            {
                // FCADD: Vm rotated by 90 (opcode bit 1 = 0) or 270 degrees, added.
                bool rot270 = (opcode & 2) != 0;
                r0 = HalfFloat.Add(n0, rot270 ? m1 : m1 ^ HalfFloat.SignMask, false, fpcr, ref fpsr);
                r1 = HalfFloat.Add(n1, rot270 ? m0 ^ HalfFloat.SignMask : m0, false, fpcr, ref fpsr);
            }

            res.Set(2 * e, 1, r0);
            res.Set((2 * e) + 1, 1, r1);
        }

        SetV(rd, res, q);
        return Flow.Next;
    }

    /// <summary>FCMLA (by element), half precision: the pair <paramref name="index"/> of <paramref name="rm"/> against each pair of Vn.</summary>
    private Flow HalfComplexByElement(bool q, int rot, int index, int rd, int rn, int rm)
    {
        if (HalfEnabled(q || index < 2) is var flow && flow != Flow.Next)
        {
            return flow;
        }

        Vec vm = GetV(rm), vn = GetV(rn), vd = GetV(rd), res = default;
        uint m0 = (uint)vm.Get(2 * index, 1), m1 = (uint)vm.Get((2 * index) + 1, 1);
        for (int e = 0; e < (q ? 4 : 2); e++)
        {
            (uint r0, uint r1) = HalfComplexMulAdd((uint)vn.Get(2 * e, 1), (uint)vn.Get((2 * e) + 1, 1), m0, m1, (uint)vd.Get(2 * e, 1), (uint)vd.Get((2 * e) + 1, 1), rot);
            res.Set(2 * e, 1, r0);
            res.Set((2 * e) + 1, 1, r1);
        }

        SetV(rd, res, q);
        return Flow.Next;
    }

    /// <summary>FCMLA of one half-precision complex pair, rotation 0, 90, 180 or 270 degrees.</summary>
    private (uint, uint) HalfComplexMulAdd(uint n0, uint n1, uint m0, uint m1, uint d0, uint d1, int rot)
    {
        const uint s = HalfFloat.SignMask;
        (uint e1, uint e2, uint e3, uint e4) = rot switch
        {
            0 => (m0, n0, m1, n0),
            1 => (m1 ^ s, n1, m0, n1),
            2 => (m0 ^ s, n0, m1 ^ s, n0),
            _ => (m1, n1, m0 ^ s, n1),
        };
        return (HalfFloat.MulAdd(d0, e2, e1, State.Fpcr, ref State.Fpsr), HalfFloat.MulAdd(d1, e4, e3, State.Fpcr, ref State.Fpsr));
    }
}
