using System.Net;
using SoftKvm.Vmm.Gdb;
using SoftKvm.Vmm.Gdb.Arm64;
using SoftKvm.Vmm.Gdb.X86;

namespace SoftKvm.Vmm.Tests.Gdb;

/// <summary>
/// The pieces of the gdb stub that need no VM: <c>--gdb</c>'s address, the protocol's hex fields, and the
/// two target descriptions against the register numbering of the g packet (the sessions with a real
/// gdb are in SoftKvm.Cli.Tests/GdbSessionTests.cs).
/// </summary>
public sealed class GdbProtocolTests
{
    [Theory]
    [InlineData("tcp::1234", "127.0.0.1", 1234)]
    [InlineData("tcp:localhost:1", "127.0.0.1", 1)]
    [InlineData("tcp:0.0.0.0:4000", "0.0.0.0", 4000)]
    [InlineData("tcp:[::1]:5", "::1", 5)]
    public void Endpoints_parse(string spec, string address, int port)
    {
        var e = GdbStub.ParseEndpoint(spec, out string? error);
        Assert.Null(error);
        Assert.Equal(IPAddress.Parse(address), e!.Address);
        Assert.Equal(port, e.Port);
    }

    [Theory]
    [InlineData("tcp:1234")]
    [InlineData("tcp::99999")]
    [InlineData("tcp:nohost.example:1")]
    [InlineData("")]
    public void Bad_endpoints_say_what_is_wrong(string spec)
    {
        Assert.Null(GdbStub.ParseEndpoint(spec, out string? error));
        Assert.StartsWith($"--gdb {spec}:", error);
    }

    [Fact]
    public void Hex_fields_reject_what_is_not_hex_or_too_long()
    {
        Assert.True(Hex.TryParse("40081060", out ulong v));
        Assert.Equal(0x40081060UL, v);
        Assert.False(Hex.TryParse("", out _));
        Assert.False(Hex.TryParse("12g", out _));
        Assert.False(Hex.TryParse("10000000000000000", out _));
        Span<byte> b = stackalloc byte[2];
        Assert.True(Hex.TryDecode("0aFf", b));
        Assert.Equal([0x0a, 0xff], b.ToArray());
        Assert.False(Hex.TryDecode("0a", b));
        Assert.Equal("phys on", Hex.DecodeText("70687973206f6e"));
        Assert.Null(Hex.DecodeText("7"));
    }

    public static TheoryData<string> Targets => ["arm64", "x86"];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Target_descriptions_name_one_register_per_g_packet_slot_with_its_size(string arch)
    {
        IGdbTarget t = arch == "arm64" ? new Arm64GdbTarget() : new X86GdbTarget();
        var doc = System.Xml.Linq.XDocument.Parse(t.TargetXml.Replace("<!DOCTYPE target SYSTEM \"gdb-target.dtd\">", ""));
        var regs = doc.Descendants("reg").ToList();
        Assert.Equal(t.RegisterSizes.Count, regs.Count);
        for (int i = 0; i < regs.Count; i++)
        {
            Assert.Equal(t.RegisterSizes[i] * 8, int.Parse(regs[i].Attribute("bitsize")!.Value));
            if (regs[i].Attribute("regnum") is { } n)
            {
                Assert.Equal(i, int.Parse(n.Value)); // explicit numbers agree with the order
            }
        }

        Assert.Equal(regs.Count, regs.Select(r => r.Attribute("name")!.Value).Distinct().Count());
        Assert.Contains(doc.Descendants("feature"), f => f.Attribute("name")!.Value == (arch == "arm64" ? "org.gnu.gdb.aarch64.core" : "org.gnu.gdb.i386.core"));
    }

    [Theory]
    [InlineData(0x0UL)] // EL0t: the debugger may stop a vCPU in user space, where an MRS of SP_EL0 is UNDEFINED
    [InlineData(0x4UL)] // EL1t
    [InlineData(0x5UL)] // EL1h
    public void Every_arm64_register_reads_wherever_the_vcpu_stopped(ulong pstate)
    {
        using var vm = new SoftKvm.Arm64.Kvm.Arm64Vm();
        var v = (SoftKvm.Arm64.Kvm.Arm64Vcpu)vm.CreateVcpu(0);
        v.Init();
        v.SetRegister(SoftKvm.Arm64.Kvm.Arm64CoreRegister.Pstate, pstate);
        v.SetRegister(SoftKvm.Arm64.Kvm.Arm64CoreRegister.Sp, 0x1230);
        var t = new Arm64GdbTarget();
        Span<byte> value = stackalloc byte[16];
        for (int n = 0; n < t.RegisterSizes.Count; n++)
        {
            t.ReadRegister(v, n, value[..t.RegisterSizes[n]]);
        }

        var doc = System.Xml.Linq.XDocument.Parse(t.TargetXml.Replace("<!DOCTYPE target SYSTEM \"gdb-target.dtd\">", ""));
        int spEl0 = doc.Descendants("reg").Select(r => r.Attribute("name")!.Value).ToList().IndexOf("sp_el0");
        t.ReadRegister(v, spEl0, value[..8]);
        Assert.Equal(0x1230UL, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(value));
        Assert.True(t.WriteRegister(v, spEl0, [0x40, 0x12, 0, 0, 0, 0, 0, 0]));
        Assert.Equal(0x1240UL, v.GetRegister(SoftKvm.Arm64.Kvm.Arm64CoreRegister.Sp));
    }
}
