namespace SoftKvm.Arm64.Cpu.Tests.FpSimd;

/// <summary>
/// One FP/SIMD instruction case: the inputs (V0-V3 as lo/hi halves, X0, FPCR; X1 points at a 64-byte
/// buffer of bytes 0x40..0x7F, X2 = 24, NZCV = FPSR = 0) and what qemu-aarch64 produced.
/// </summary>
internal sealed record FpSimdCase(
    string Group,
    string Asm,
    uint Word,
    ulong[] V,
    ulong X0,
    uint Fpcr,
    ulong[] ExpectedV,
    ulong ExpectedX0,
    uint ExpectedNzcv,
    uint ExpectedFpsr,
    long ExpectedX1Delta,
    string ExpectedBuffer);
