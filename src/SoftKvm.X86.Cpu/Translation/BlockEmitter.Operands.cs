using System.Reflection.Emit;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>The IL of operands: guest registers (locals), effective and linear addresses, TLB-hit memory access.</summary>
internal sealed unsafe partial class BlockEmitter
{
    private void LoadGpr(int index) => _il.Emit(OpCodes.Ldloc, Gpr(index));

    private void Mask(ulong mask)
    {
        if (mask != ulong.MaxValue)
        {
            _il.Emit(OpCodes.Ldc_I8, (long)mask);
            _il.Emit(OpCodes.And);
        }
    }

    /// <summary>Pushes the value of register <paramref name="r"/> (zero-extended), as <see cref="X86Cpu.GetReg"/>.</summary>
    private void LoadRegister(Register r)
    {
        LoadGpr(X86Cpu.RegIndex(r));
        if (r is Register.AH or Register.CH or Register.DH or Register.BH)
        {
            _il.Emit(OpCodes.Ldc_I4_8);
            _il.Emit(OpCodes.Shr_Un);
            Mask(0xFF);
            return;
        }

        Mask(X86Cpu.SizeMask(X86Cpu.RegSize(r)));
    }

    /// <summary>Writes <paramref name="value"/> (a local) to register <paramref name="r"/>, as <see cref="X86Cpu.SetReg"/>.</summary>
    private void StoreRegister(Register r, LocalBuilder value)
    {
        _il.Emit(OpCodes.Ldloca, Gpr(X86Cpu.RegIndex(r)));
        _il.Emit(OpCodes.Ldc_I4, X86Cpu.RegSize(r));
        _il.Emit(r is Register.AH or Register.CH or Register.DH or Register.BH ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
        _il.Emit(OpCodes.Ldloc, value);
        _il.Emit(OpCodes.Call, s_writeGpr);
    }

    private void SetStackPointer(LocalBuilder value)
    {
        _il.Emit(OpCodes.Ldloca, Gpr(Cpu.Gpr.Rsp));
        _il.Emit(OpCodes.Ldc_I4, StackSize);
        _il.Emit(OpCodes.Ldc_I4_0);
        _il.Emit(OpCodes.Ldloc, value);
        _il.Emit(OpCodes.Call, s_writeGpr);
    }

    /// <summary>Pushes the effective address of the memory operand, as <see cref="X86Cpu.EffectiveAddress"/>.</summary>
    private void EffectiveAddress(ref Instruction i)
    {
        Register b = i.MemoryBase, x = i.MemoryIndex;
        if (b == Register.RIP)
        {
            _il.Emit(OpCodes.Ldc_I8, (long)i.MemoryDisplacement64);
            return;
        }

        if (b == Register.EIP)
        {
            _il.Emit(OpCodes.Ldc_I8, (long)(i.MemoryDisplacement64 & 0xFFFFFFFF));
            return;
        }

        _il.Emit(OpCodes.Ldc_I8, (long)i.MemoryDisplacement64);
        if (b != Register.None)
        {
            LoadGpr(X86Cpu.RegIndex(b));
            _il.Emit(OpCodes.Add);
        }

        if (x != Register.None)
        {
            LoadGpr(X86Cpu.RegIndex(x));
            int shift = System.Numerics.BitOperations.TrailingZeroCount(i.MemoryIndexScale);
            if (shift != 0)
            {
                _il.Emit(OpCodes.Ldc_I4, shift);
                _il.Emit(OpCodes.Shl);
            }

            _il.Emit(OpCodes.Add);
        }

        Mask(X86Cpu.SizeMask(BlockCompiler.AddressSize(ref i, _bitness)));
    }

    /// <summary>Pushes the linear address of the memory operand (flat segments: the run loop checked them; FS/GS by their base in 64-bit mode).</summary>
    private void LinearAddress(ref Instruction i)
    {
        EffectiveAddress(ref i);
        if (i.MemorySegment is Register.FS or Register.GS)
        {
            _il.Emit(OpCodes.Ldarg_1);
            _il.Emit(OpCodes.Ldc_I4, i.MemorySegment - Register.ES);
            _il.Emit(OpCodes.Call, s_segmentBase);
            _il.Emit(OpCodes.Add);
        }
    }

    // pointer = BlockRead/WritePointer(cpu, <address>, size); if (pointer == null) goto leave;
    private void Pointer(Action address, int size, bool write, LocalBuilder pointer, Label leave)
    {
        _il.Emit(OpCodes.Ldarg_1);
        address();
        _il.Emit(OpCodes.Ldc_I4, size);
        _il.Emit(OpCodes.Call, write ? s_writePointer : s_readPointer);
        _il.Emit(OpCodes.Stloc, pointer);
        _il.Emit(OpCodes.Ldloc, pointer);
        _il.Emit(OpCodes.Brfalse, leave);
    }

    private void MemoryPointer(Instruction i, int size, bool write, LocalBuilder pointer, Label leave) =>
        Pointer(() => LinearAddress(ref i), size, write, pointer, leave);

    private void Load(LocalBuilder pointer, int size)
    {
        _il.Emit(OpCodes.Ldloc, pointer);
        _il.Emit(OpCodes.Ldc_I4, size);
        _il.Emit(OpCodes.Call, s_load);
    }

    // *pointer = value; if (pointer - code < codeLength + size - 1) goto written;   (a store overlapping the block's bytes)
    private void Store(LocalBuilder pointer, int size, LocalBuilder value)
    {
        _il.Emit(OpCodes.Ldloc, pointer);
        _il.Emit(OpCodes.Ldc_I4, size);
        _il.Emit(OpCodes.Ldloc, value);
        _il.Emit(OpCodes.Call, s_store);
        _il.Emit(OpCodes.Ldloc, pointer);
        _il.Emit(OpCodes.Ldc_I8, (long)(_codeHost - (size - 1)));
        _il.Emit(OpCodes.Conv_U);
        _il.Emit(OpCodes.Sub);
        _il.Emit(OpCodes.Ldc_I8, (long)(_codeLength + size - 1));
        _il.Emit(OpCodes.Conv_U);
        _il.Emit(OpCodes.Blt_Un, Written());
    }

    /// <summary>
    /// target = operand <paramref name="op"/> of <paramref name="size"/> bytes (register, immediate or memory,
    /// read through <paramref name="pointer"/>; a destination is looked up for writing when <paramref name="rmw"/>).
    /// </summary>
    private void Read(ref Instruction i, int op, int size, LocalBuilder target, LocalBuilder pointer, bool rmw, Label leave)
    {
        switch (i.GetOpKind(op))
        {
            case OpKind.Register:
                LoadRegister(i.GetOpRegister(op));
                break;
            case OpKind.Memory:
                MemoryPointer(i, size, rmw, pointer, leave);
                Load(pointer, size);
                break;
            default:
                _il.Emit(OpCodes.Ldc_I8, (long)(i.GetImmediate(op) & X86Cpu.SizeMask(size)));
                break;
        }

        _il.Emit(OpCodes.Stloc, target);
    }

    /// <summary>Writes <paramref name="value"/> to operand 0: a register, or memory through the pointer its read or look-up left.</summary>
    private void WriteDestination(ref Instruction i, int size, LocalBuilder value)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            StoreRegister(i.Op0Register, value);
        }
        else
        {
            Store(_p, size, value);
        }
    }
}
