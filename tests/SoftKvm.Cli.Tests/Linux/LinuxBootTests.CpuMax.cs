using System.Text;

namespace SoftKvm.Cli.Tests.Linux;

/// <summary>
/// Issue 22 end to end: Debian's arm64 kernel on `--cpu max` (2 vCPUs) finds the features the model
/// advertises (the hwcaps of /proc/cpuinfo, the "CPU features: detected" lines of its boot log) and its
/// Crypto Extensions drivers pass the crypto manager's self-tests as they register (guests/linux/build.sh
/// puts them in the initramfs; /bin/load-ce loads them): AES, CCM, GCM (GHASH through PMULL), POLYVAL,
/// SHA-1, SHA-256, SHA-512, SHA-3 and CRC-T10DIF, each compared with the kernel's known answers. With
/// pointer authentication (max's default IMPDEF algorithm) and BTI the kernel signs every return address
/// and runs on guarded pages.
/// </summary>
public sealed partial class LinuxBootTests
{
    private static readonly string[] CeDrivers =
    [
        "aes-ce", "ecb-aes-ce", "cbc-aes-ce", "ctr-aes-ce", "xts-aes-ce", "ccm-aes-ce", "gcm-aes-ce", "cmac-aes-ce",
        "polyval-ce", "sha1-ce", "sha224-ce", "sha256-ce", "sha384-ce", "sha512-ce", "sha3-256-ce", "sha3-512-ce",
        "crct10dif-arm64-ce",
    ];

    private static readonly string[] MaxHwcaps =
    [
        "aes", "pmull", "sha1", "sha2", "crc32", "atomics", "fphp", "asimdhp", "asimdrdm", "jscvt", "fcma", "lrcpc", "dcpop",
        "sha3", "sm3", "sm4", "asimddp", "sha512", "dit", "ilrcpc", "flagm", "ssbs", "sb", "dcpodp", "flagm2", "frint", "paca",
        "pacg", "bti", "mte", "mte3",
    ];

    [SkippableFact]
    public void DebianKernelOnCpuMaxFindsTheFeaturesAndItsCryptoDriversPassTheirSelfTests()
    {
        string outDir = Inputs("arm64");
        var console = new StringBuilder();
        using var vm = StartSoftKvm(
            [
                "run", "--kernel", Path.Combine(outDir, "vmlinuz"), "--initrd", Path.Combine(outDir, "initrd.gz"),
                "--append", "console=ttyAMA0", "--cpu", "max", "--smp", "2",
            ],
            console);
        try
        {
            WaitFor(console, Marker, TimeSpan.FromMinutes(10));
            Send(vm, "grep -m1 Features /proc/cpuinfo | sed 's/^/HWCAPS/'");
            WaitFor(console, "\nHWCAPSFeatures", TimeSpan.FromMinutes(2), normalise: true);
            Send(vm, "load-ce");
            WaitFor(console, "\nCE-LOADED", TimeSpan.FromMinutes(5), normalise: true);
            Send(vm, "awk '/^driver/ {d = $3} /^selftest/ {print \"SELFTEST \" d \" \" $3}' /proc/crypto; echo SELFTESTS-LISTED");
            WaitFor(console, "\nSELFTESTS-LISTED", TimeSpan.FromMinutes(2), normalise: true);
            PowerOff(vm);
        }
        finally
        {
            KillIfRunning(vm);
        }

        string log = console.ToString().Replace("\r", "");
        string hwcaps = log.Split('\n').First(l => l.StartsWith("HWCAPSFeatures", StringComparison.Ordinal));
        var found = hwcaps.Split(':', 2)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        Assert.All(MaxHwcaps, cap => Assert.Contains(cap, found));
        Assert.Contains("CPU features: detected: LSE atomic instructions", log);
        Assert.Contains("CPU features: detected: Privileged Access Never", log);
        Assert.Contains("CPU features: detected: RCpc load-acquire (LDAPR)", log);
        // Pointer authentication and BTI: the kernel signs its return addresses and runs on guarded pages from here on.
        Assert.Contains("CPU features: detected: Address authentication (IMP DEF algorithm)", log); // max's default, pauth=impdef
        Assert.Contains("CPU features: detected: Generic authentication (IMP DEF algorithm)", log);
        Assert.Contains("CPU features: detected: Branch Target Identification", log);
        Assert.Contains("CPU features: detected: Memory Tagging Extension", log);
        Assert.Contains("CPU features: detected: Asymmetric MTE Tag Check Fault", log);
        var selftests = log.Split('\n').Where(l => l.StartsWith("SELFTEST ", StringComparison.Ordinal))
            .Select(l => l.Split(' ')).Where(f => f.Length == 3).ToDictionary(f => f[1], f => f[2]);
        Assert.All(CeDrivers, driver => Assert.Equal("passed", selftests.GetValueOrDefault(driver, "missing (" + driver + ")")));
        // The crypto manager reports a failing test as "alg: ... failed" (or "... test failed (wrong result)").
        Assert.DoesNotContain(log.Split('\n'), l => l.Contains("alg: ", StringComparison.Ordinal) && l.Contains("fail", StringComparison.OrdinalIgnoreCase));
    }
}
