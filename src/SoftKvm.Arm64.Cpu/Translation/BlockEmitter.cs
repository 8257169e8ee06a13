using System.Reflection;
using System.Reflection.Emit;

namespace SoftKvm.Arm64.Cpu.Translation;

/// <summary>
/// The IL sequences the instructions of a block share, for <see cref="BlockCompiler"/>: the retired
/// count, PC, the exits (plain, unless-next-or-jump, chained into the next optimized block) and the
/// checks of a backward branch. <c>flow</c> and <c>retired</c> are the method's locals, <c>host</c> the
/// block's first word in guest memory.
/// </summary>
internal sealed unsafe class BlockEmitter(ILGenerator il, LocalBuilder flow, LocalBuilder retired, uint* host)
{
    private static readonly FieldInfo s_state = typeof(Arm64Cpu).GetField(nameof(Arm64Cpu.State))!;
    private static readonly FieldInfo s_pc = typeof(CpuState).GetField(nameof(CpuState.Pc))!;
    private static readonly FieldInfo s_links = typeof(BlockState).GetField(nameof(BlockState.Links))!;
    private static readonly MethodInfo s_findChainTarget = typeof(Arm64Cpu).GetMethod(nameof(Arm64Cpu.FindChainTarget), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly MethodInfo s_runChained = typeof(Arm64Cpu).GetMethod(nameof(Arm64Cpu.RunChained), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private LocalBuilder? _next;
    private LocalBuilder? _result;

    /// <summary>Instructions retired since <c>retired</c> was last brought up to date.</summary>
    public int Pending { get; set; }

    // retired += Pending
    public void SyncRetired()
    {
        if (Pending != 0)
        {
            il.Emit(OpCodes.Ldloc, retired);
            il.Emit(OpCodes.Ldc_I4, Pending);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, retired);
            Pending = 0;
        }
    }

    // cpu._lastWasLoadExclusive = false
    public void ClearLoadExclusive()
    {
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldc_I4_0);
        il.Emit(OpCodes.Stfld, Arm64Cpu.LastWasLoadExclusiveField);
    }

    // (retired + Pending) << 2
    private void LoadRetiredShifted()
    {
        LoadRetired();
        il.Emit(OpCodes.Ldc_I4_2);
        il.Emit(OpCodes.Shl);
    }

    private static readonly MethodInfo s_sharedEpoch = typeof(CpuShared).GetProperty(nameof(CpuShared.TlbEpoch))!.GetMethod!;

    // cpu.State.Pc = pc + 4 * index
    public void SetPc(int index)
    {
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldflda, s_state);
        il.Emit(OpCodes.Ldarg_2);
        if (index != 0)
        {
            il.Emit(OpCodes.Ldc_I8, 4L * index);
            il.Emit(OpCodes.Add);
        }

        il.Emit(OpCodes.Stfld, s_pc);
    }

    // if (flow > Flow.Jump) return ((retired + Pending) << 2) | flow;   (an exception or a trap: not retired)
    public void ExitUnlessNextOrJump()
    {
        Label go = il.DefineLabel();
        il.Emit(OpCodes.Ldloc, flow);
        il.Emit(OpCodes.Ldc_I4, (int)Flow.Jump);
        il.Emit(OpCodes.Ble_Un, go);
        LoadRetiredShifted();
        il.Emit(OpCodes.Ldloc, flow);
        il.Emit(OpCodes.Or);
        il.Emit(OpCodes.Ret);
        il.MarkLabel(go);
    }

    // return ((retired + Pending) << 2) | exit
    public void Exit(Flow exit)
    {
        LoadRetiredShifted();
        if (exit != Flow.Next)
        {
            il.Emit(OpCodes.Ldc_I4, (int)exit);
            il.Emit(OpCodes.Or);
        }

        il.Emit(OpCodes.Ret);
    }

    /// <summary>
    /// Leaves the block with <paramref name="exit"/> (PC already at instruction <paramref name="target"/>
    /// of the same page), going straight on into the optimized block there when there is one, through
    /// link <paramref name="link"/>, under the checks of a backward branch; else to the run loop.
    /// </summary>
    public void ExitChained(Flow exit, int link, int target)
    {
        _next ??= il.DeclareLocal(typeof(TranslatedBlock));
        _result ??= il.DeclareLocal(typeof(int));
        Label plain = il.DefineLabel(), have = il.DefineLabel(), ran = il.DefineLabel();

        LeaveUnlessItMayGoOn(plain);

        // next = state.Links[link] ?? (state.Links[link] = cpu.FindChainTarget(host + target)); if (next == null) goto plain;
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldfld, s_links);
        il.Emit(OpCodes.Ldc_I4, link);
        il.Emit(OpCodes.Ldelem_Ref);
        il.Emit(OpCodes.Stloc, _next);
        il.Emit(OpCodes.Ldloc, _next);
        il.Emit(OpCodes.Brtrue, have);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldc_I8, (long)(host + target));
        il.Emit(OpCodes.Conv_U);
        il.Emit(OpCodes.Call, s_findChainTarget);
        il.Emit(OpCodes.Stloc, _next);
        il.Emit(OpCodes.Ldloc, _next);
        il.Emit(OpCodes.Brfalse, plain);
        StoreLink(link, _next);
        il.MarkLabel(have);

        // result = cpu.RunChained(next, pc + 4 * target, ref requests, limit - (retired + Pending));
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldloc, _next);
        il.Emit(OpCodes.Ldarg_2);
        il.Emit(OpCodes.Ldc_I8, 4L * target);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Ldarg_S, (byte)4);
        il.Emit(OpCodes.Ldarg_S, (byte)5);
        LoadRetired();
        il.Emit(OpCodes.Conv_I8);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Call, s_runChained);
        il.Emit(OpCodes.Stloc, _result);

        // if (result >= 0) return ((retired + Pending) << 2) + result;   (its count and the flow it left with)
        il.Emit(OpCodes.Ldloc, _result);
        il.Emit(OpCodes.Ldc_I4_0);
        il.Emit(OpCodes.Bge, ran);

        // Not run: too deep (keep the link), or its code changed (drop it); PC is still at the target.
        il.Emit(OpCodes.Ldloc, _result);
        il.Emit(OpCodes.Ldc_I4, BlockCompiler.NotChained);
        il.Emit(OpCodes.Beq, plain);
        StoreLink(link, null);
        il.Emit(OpCodes.Br, plain);

        il.MarkLabel(ran);
        LoadRetiredShifted();
        il.Emit(OpCodes.Ldloc, _result);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Ret);

        il.MarkLabel(plain);
        Exit(exit);
    }

    // state.Links[link] = value
    private void StoreLink(int link, LocalBuilder? value)
    {
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldfld, s_links);
        il.Emit(OpCodes.Ldc_I4, link);
        if (value is null)
        {
            il.Emit(OpCodes.Ldnull);
        }
        else
        {
            il.Emit(OpCodes.Ldloc, value);
        }

        il.Emit(OpCodes.Stelem_Ref);
    }

    // retired + Pending
    private void LoadRetired()
    {
        il.Emit(OpCodes.Ldloc, retired);
        if (Pending != 0)
        {
            il.Emit(OpCodes.Ldc_I4, Pending);
            il.Emit(OpCodes.Add);
        }
    }

    // A taken backward branch (PC already at its target) goes round again only while it may go on.
    public void CheckBackwardBranch()
    {
        Label leave = il.DefineLabel();
        Label stay = il.DefineLabel();
        LeaveUnlessItMayGoOn(leave);
        il.Emit(OpCodes.Br, stay);
        il.MarkLabel(leave);
        Exit(Flow.Jump);
        il.MarkLabel(stay);
    }

    // Translated code goes on past a backward branch or into a chained block only while the request
    // word is clear, the budget lasts and no other PE broadcast a TLB invalidation, as the
    // interpreter checks before every instruction:
    // if (requests != 0 || retired + Pending >= limit || cpu._tlbEpoch != cpu._shared.TlbEpoch) goto leave;
    private void LeaveUnlessItMayGoOn(Label leave)
    {
        il.Emit(OpCodes.Ldarg_S, (byte)4);
        il.Emit(OpCodes.Volatile);
        il.Emit(OpCodes.Ldind_I4);
        il.Emit(OpCodes.Brtrue, leave);
        LoadRetired();
        il.Emit(OpCodes.Conv_I8);
        il.Emit(OpCodes.Ldarg_S, (byte)5);
        il.Emit(OpCodes.Bge, leave);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldfld, Arm64Cpu.TlbEpochField);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldfld, Arm64Cpu.SharedField);
        il.Emit(OpCodes.Call, s_sharedEpoch);
        il.Emit(OpCodes.Bne_Un, leave);
    }
}
