using System.Reflection.Emit;
using Iced.Intel;
using SoftKvm.X86.Cpu.Instructions;
using Label = System.Reflection.Emit.Label;

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>The IL of the instructions a block compiles itself.</summary>
internal sealed unsafe partial class BlockEmitter
{
    /// <summary>A compiled instruction that is not a branch.</summary>
    public void Plain(ref Instruction i, BlockOp op, ulong need, Label leave)
    {
        switch (op)
        {
            case BlockOp.Nop:
                return;
            case BlockOp.Mov:
            {
                int size = X86Cpu.OpSize(ref i, 0);
                if (i.Op0Kind == OpKind.Memory)
                {
                    MemoryPointer(i, size, true, _p, leave);
                }

                Read(ref i, 1, size, _r, _q, false, leave);
                WriteDestination(ref i, size, _r);
                return;
            }

            case BlockOp.Movzx or BlockOp.Movsx:
            {
                int src = X86Cpu.OpSize(ref i, 1);
                Read(ref i, 1, src, _r, _q, false, leave);
                if (op == BlockOp.Movsx)
                {
                    _il.Emit(OpCodes.Ldloc, _r);
                    _il.Emit(OpCodes.Ldc_I4, src);
                    _il.Emit(OpCodes.Call, s_signExtend);
                    _il.Emit(OpCodes.Stloc, _r);
                }

                StoreRegister(i.Op0Register, _r);
                return;
            }

            case BlockOp.Lea:
                EffectiveAddress(ref i);
                _il.Emit(OpCodes.Stloc, _r);
                StoreRegister(i.Op0Register, _r);
                return;
            case BlockOp.Binary:
            {
                int size = X86Cpu.OpSize(ref i, 0);
                int code = BinaryCode(i.Mnemonic);
                Read(ref i, 0, size, _a, _p, code < 7, leave);
                Read(ref i, 1, size, _b, _q, false, leave);
                _il.Emit(OpCodes.Ldloca, _flags);
                _il.Emit(OpCodes.Ldloc, _a);
                _il.Emit(OpCodes.Ldloc, _b);
                _il.Emit(OpCodes.Ldc_I4, code);
                _il.Emit(OpCodes.Ldc_I4, size);
                Need(need);
                _il.Emit(OpCodes.Call, s_binary);
                _il.Emit(OpCodes.Stloc, _r);
                if (code < 7)
                {
                    WriteDestination(ref i, size, _r);
                }

                return;
            }

            case BlockOp.IncDec or BlockOp.Neg or BlockOp.Not or BlockOp.Shift:
            {
                int size = X86Cpu.OpSize(ref i, 0);
                Read(ref i, 0, size, _a, _p, true, leave);
                if (op == BlockOp.Not)
                {
                    _il.Emit(OpCodes.Ldloc, _a);
                    _il.Emit(OpCodes.Not);
                }
                else
                {
                    _il.Emit(OpCodes.Ldloca, _flags);
                    _il.Emit(OpCodes.Ldloc, _a);
                    switch (op)
                    {
                        case BlockOp.IncDec:
                            _il.Emit(i.Mnemonic == Mnemonic.Dec ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
                            _il.Emit(OpCodes.Ldc_I4, size);
                            Need(need);
                            _il.Emit(OpCodes.Call, s_incDec);
                            break;
                        case BlockOp.Neg:
                            _il.Emit(OpCodes.Ldc_I4, size);
                            Need(need);
                            _il.Emit(OpCodes.Call, s_neg);
                            break;
                        default:
                            _il.Emit(OpCodes.Ldc_I4, i.Mnemonic switch { Mnemonic.Shr => 1, Mnemonic.Sar => 2, _ => 0 });
                            _il.Emit(OpCodes.Ldc_I4, ShiftCount(ref i, size));
                            _il.Emit(OpCodes.Ldc_I4, size);
                            Need(need);
                            _il.Emit(OpCodes.Call, s_shift);
                            break;
                    }
                }

                _il.Emit(OpCodes.Stloc, _r);
                WriteDestination(ref i, size, _r);
                return;
            }

            case BlockOp.DoubleShift:
            {
                int size = X86Cpu.OpSize(ref i, 0);
                Read(ref i, 0, size, _a, _p, true, leave);
                Read(ref i, 1, size, _b, _q, false, leave);
                _il.Emit(OpCodes.Ldloca, _flags);
                _il.Emit(OpCodes.Ldloc, _a);
                _il.Emit(OpCodes.Ldloc, _b);
                _il.Emit(OpCodes.Ldc_I4, ShiftRotate.MaskedCount(i.GetImmediate(2), size));
                _il.Emit(OpCodes.Ldc_I4, size);
                _il.Emit(i.Mnemonic == Mnemonic.Shld ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
                Need(need);
                _il.Emit(OpCodes.Call, s_doubleShift);
                _il.Emit(OpCodes.Stloc, _r);
                WriteDestination(ref i, size, _r);
                return;
            }

            case BlockOp.Mul:
            {
                int size = X86Cpu.OpSize(ref i, 0);
                Read(ref i, 0, size, _b, _q, false, leave);
                _il.Emit(OpCodes.Ldloca, Gpr(Cpu.Gpr.Rax));
                _il.Emit(OpCodes.Ldloca, Gpr(Cpu.Gpr.Rdx));
                _il.Emit(OpCodes.Ldloca, _flags);
                _il.Emit(OpCodes.Ldloc, _b);
                _il.Emit(OpCodes.Ldc_I4, size);
                Need(need);
                _il.Emit(OpCodes.Call, s_mul);
                return;
            }

            case BlockOp.Imul:
            {
                // IMUL r, r/m: x = r, y = r/m; IMUL r, r/m, imm: x = r/m, y = imm.
                int size = X86Cpu.OpSize(ref i, 0);
                if (i.OpCount == 3)
                {
                    Read(ref i, 1, size, _a, _q, false, leave);
                    _il.Emit(OpCodes.Ldc_I8, (long)i.GetImmediate(2));
                    _il.Emit(OpCodes.Stloc, _b);
                }
                else
                {
                    LoadRegister(i.Op0Register);
                    _il.Emit(OpCodes.Stloc, _a);
                    Read(ref i, 1, size, _b, _q, false, leave);
                }

                _il.Emit(OpCodes.Ldloca, _flags);
                _il.Emit(OpCodes.Ldloc, _a);
                _il.Emit(OpCodes.Ldloc, _b);
                _il.Emit(OpCodes.Ldc_I4, size);
                Need(need);
                _il.Emit(OpCodes.Call, s_imul);
                _il.Emit(OpCodes.Stloc, _r);
                StoreRegister(i.Op0Register, _r);
                return;
            }

            case BlockOp.Setcc:
                if (i.Op0Kind == OpKind.Memory)
                {
                    MemoryPointer(i, 1, true, _p, leave);
                }

                Condition(i.ConditionCode);
                _il.Emit(OpCodes.Conv_U8);
                _il.Emit(OpCodes.Stloc, _r);
                WriteDestination(ref i, 1, _r);
                return;
            case BlockOp.Push:
            {
                int size = -i.StackPointerIncrement;
                Read(ref i, 0, size, _r, _q, false, leave);
                PushValue(size, leave);
                return;
            }

            case BlockOp.Pop:
            {
                PopValue(i.StackPointerIncrement, leave, canonical: false);
                StoreRegister(i.Op0Register, _r);
                return;
            }

            default:
                throw new InvalidOperationException($"x86 block: {op} is not a plain instruction");
        }
    }

    /// <summary>CALL rel: pushes the return address (<paramref name="next"/>); the caller then leaves for the target (so
    /// does a push into the block's own code: <see cref="Begin"/> was given the target).</summary>
    public void Call(ref Instruction i, ulong next, Label leave)
    {
        _il.Emit(OpCodes.Ldc_I8, (long)next);
        _il.Emit(OpCodes.Stloc, _r);
        PushValue(i.Op0Kind == OpKind.NearBranch64 ? 8 : 4, leave);
    }

    /// <summary>RET: pops the target (a non-canonical one in 64-bit mode leaves for the interpreter's #GP); <see cref="Return"/> goes there.</summary>
    public void Ret(ref Instruction i, Label leave) =>
        PopValue(i.Code switch { Code.Retnw => 2, Code.Retnd => 4, _ => 8 }, leave, canonical: _bitness == 64);

    /// <summary>
    /// After <see cref="Ret"/> (counted in <see cref="Pending"/>): to the label of the place after one of the
    /// block's calls when the popped address is that place, else out of the block to it.
    /// </summary>
    public void Return(IEnumerable<(int Offset, ulong Rip)> places, int from, Dictionary<int, Label> labels)
    {
        foreach (var (offset, rip) in places)
        {
            // if (r == rip) goto place;
            Label other = _il.DefineLabel();
            _il.Emit(OpCodes.Ldloc, _r);
            _il.Emit(OpCodes.Ldc_I8, (long)rip);
            _il.Emit(OpCodes.Bne_Un, other);
            Jump(offset, rip, from, labels);
            _il.MarkLabel(other);
        }

        _il.Emit(OpCodes.Ldarg_1);
        _il.Emit(OpCodes.Ldloc, _r);
        _il.Emit(OpCodes.Call, s_setRip);
        ExitToRip();
    }

    // b = (rsp - size) & stack mask; p = write pointer(b) or leave; rsp = b; *p = r
    private void PushValue(int size, Label leave)
    {
        LoadGpr(Cpu.Gpr.Rsp);
        _il.Emit(OpCodes.Ldc_I8, (long)size);
        _il.Emit(OpCodes.Sub);
        Mask(StackMask);
        _il.Emit(OpCodes.Stloc, _b);
        Pointer(() => _il.Emit(OpCodes.Ldloc, _b), size, true, _p, leave);
        SetStackPointer(_b);
        Store(_p, size, _r); // last: a store into the block's code leaves from here
    }

    // b = rsp & stack mask; r = *read pointer(b) or leave; [if (!canonical(r)) leave;] rsp = (b + size) & stack mask
    private void PopValue(int size, Label leave, bool canonical)
    {
        LoadGpr(Cpu.Gpr.Rsp);
        Mask(StackMask);
        _il.Emit(OpCodes.Stloc, _b);
        Pointer(() => _il.Emit(OpCodes.Ldloc, _b), size, false, _p, leave);
        Load(_p, size);
        _il.Emit(OpCodes.Stloc, _r);
        if (canonical)
        {
            _il.Emit(OpCodes.Ldloc, _r);
            _il.Emit(OpCodes.Call, s_canonical);
            _il.Emit(OpCodes.Brfalse, leave);
        }

        _il.Emit(OpCodes.Ldloc, _b);
        _il.Emit(OpCodes.Ldc_I8, (long)size);
        _il.Emit(OpCodes.Add);
        Mask(StackMask);
        _il.Emit(OpCodes.Stloc, _b);
        SetStackPointer(_b);
    }

    /// <summary>
    /// RDTSC (RDTSCP): <c>if (!BlockRdtsc(cpu, retired + Pending, out r)) goto leave;</c> (CR4.TSD outside ring 0: the
    /// interpreter's #GP) EAX = r, EDX = r &gt;&gt; 32 [ECX = BlockTscAux(cpu)]. The instructions the block retired before
    /// it go in, so that a TSC counting retired instructions (<see cref="X86Cpu.DeterministicTsc"/>) reads what the
    /// interpreter's execution would.
    /// </summary>
    public void Rdtsc(ref Instruction i, Label leave)
    {
        _il.Emit(OpCodes.Ldarg_1);
        LoadRetired(Pending);
        _il.Emit(OpCodes.Ldloca, _r);
        _il.Emit(OpCodes.Call, s_rdtsc);
        _il.Emit(OpCodes.Brfalse, leave);
        StoreRegister(Register.EAX, _r);
        _il.Emit(OpCodes.Ldloc, _r);
        _il.Emit(OpCodes.Ldc_I4, 32);
        _il.Emit(OpCodes.Shr_Un);
        _il.Emit(OpCodes.Stloc, _r);
        StoreRegister(Register.EDX, _r);
        if (i.Mnemonic == Mnemonic.Rdtscp)
        {
            _il.Emit(OpCodes.Ldarg_1);
            _il.Emit(OpCodes.Call, s_tscAux);
            _il.Emit(OpCodes.Stloc, _r);
            StoreRegister(Register.ECX, _r);
        }
    }

    private void Need(ulong need) => _il.Emit(OpCodes.Ldc_I8, (long)need);

    private static int BinaryCode(Mnemonic m) => m switch
    {
        Mnemonic.Add => 0,
        Mnemonic.Or => 1,
        Mnemonic.Adc => 2,
        Mnemonic.Sbb => 3,
        Mnemonic.And => 4,
        Mnemonic.Sub => 5,
        Mnemonic.Xor => 6,
        Mnemonic.Cmp => 7,
        _ => 8,
    };

    /// <summary>The masked count of a shift by a constant.</summary>
    internal static int ShiftCount(ref Instruction i, int size)
    {
        ulong n = i.OpCount < 2 ? 1 : i.GetImmediate(1);
        return ShiftRotate.MaskedCount(n, size);
    }
}
