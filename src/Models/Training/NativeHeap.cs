using System.Runtime.InteropServices;

namespace Distributed.Models.Training;

/// <summary>
/// glibc returns every freed block above its mmap threshold to the kernel, so each training step's large
/// activation buffers came back as fresh pages: page faults and page clearing cost 3-6% of a step here.
/// Raising the thresholds keeps those blocks in the heap for the next step. Process-wide: a process that trains
/// calls it once at its start (the silo's replica host, `distributed train`, the benchmarks).
/// </summary>
public static class NativeHeap
{
    const int TrimThreshold = -1, MmapThreshold = -3;

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int MallOpt(int parameter, int value);

    static readonly Lazy<bool> configured = new(() =>
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            // 32 MiB is glibc's largest mmap threshold on 64-bit; keep up to 512 MiB free before trimming.
            return MallOpt(MmapThreshold, 32 << 20) == 1 & MallOpt(TrimThreshold, 512 << 20) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc: its allocator, its defaults
        }
    });

    public static bool Configure() => configured.Value;
}
