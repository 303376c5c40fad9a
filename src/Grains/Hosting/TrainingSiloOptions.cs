using System.ComponentModel;
using Distributed.Models;
using Distributed.Options;

namespace Distributed.Grains.Hosting;

/// <summary>Names of the storage providers the grains use.</summary>
public static class StorageNames
{
    /// <summary>Durable grain state: trials (and sweeps).</summary>
    public const string State = "state";
}

/// <summary>
/// What a silo needs to host training: where it keeps things, how many torch threads a replica uses, its memory and
/// disk budgets. The property names are the settings' names (a silo binds them from its configuration); each
/// description is the silo's usage text.
/// </summary>
public sealed record TrainingSiloOptions
{
    [Description("grain state and artifacts (checkpoints, results) when kept locally; silos of one machine share it")]
    public string DataDir { get; init; } = Path.Combine(Environment.CurrentDirectory, ".distributed");
    [Description("libtorch intra-op threads per replica (1..256); 1 is fastest for small RNNs on few cores, and repeatable")]
    public int TorchThreads { get; init; } = 1;
    [Description("TCP port of direct gradient links from coordinators in other silos: 0 any free port, -1 off")]
    public int GradientPort { get; init; }
    [Description("steps of a trial's metrics per sealed segment in the artifact store; the record keeps only the newer ones")]
    public int MetricSegmentSteps { get; init; } = 1000;
    [Description("bytes the replicas of this silo may hold (4GiB, 512MiB, ...); 0 takes 80% of the memory the process may use")]
    public ByteSize MemoryBudget { get; init; }
    [Description("bytes of fetched datasets kept in the data directory; copies no replica holds are evicted, least recently used first")]
    public ByteSize DatasetCache { get; init; } = 8L << 30;
    [Description("age (d.hh:mm:ss) a dataset part without a manifest, or a metric segment no trial names, must reach before it is collected")]
    public TimeSpan OrphanAge { get; init; } = TimeSpan.FromDays(1);

    [Description("true lets trials read a data.tsvPath that is not a dataset: reference from this silo's own disk (development only; the embedded silo sets it for its user's files)")]
    public bool AllowLocalFiles { get; init; }

    /// <summary>
    /// Why this silo refuses to read <paramref name="tsvPath"/>, or null: a silo reads only the datasets `submit`
    /// stored, never a path of its own disk a caller names (/etc/passwd, a FIFO), unless <see cref="AllowLocalFiles"/>.
    /// </summary>
    public string? LocalFileProblem(string? tsvPath) =>
        tsvPath is null || AllowLocalFiles || DatasetReference.IsReference(tsvPath) ? null
            : $"data.tsvPath: '{(tsvPath.Length > 200 ? tsvPath[..200] + "..." : tsvPath)}' is not a dataset: reference; this silo reads only the datasets `distributed submit` stored (silo.allowLocalFiles is off)";

    public IReadOnlyList<string> Validate(string prefix = "silo")
    {
        var errors = new OptionErrors(prefix);
        errors.Check(!string.IsNullOrWhiteSpace(DataDir), "dataDir", "must be a directory path");
        errors.Check(TorchThreads is >= 1 and <= 256, "torchThreads", "must be 1..256");
        errors.Check(MetricSegmentSteps is >= 1 and <= 1_000_000, "metricSegmentSteps", "must be 1..1000000");
        errors.Check(DatasetCache >= 1L << 20, "datasetCache", "must be at least 1 MiB");
        errors.Check(MemoryBudget == 0 || MemoryBudget >= 64L << 20, "memoryBudget", "must be 0 (80% of the memory available) or at least 64 MiB");
        errors.Check(OrphanAge >= TimeSpan.FromMinutes(10), "orphanAge", "must be at least 10 minutes");
        errors.Check(GradientPort is >= -1 and <= 65535, "gradientPort", "must be -1 (off), 0 (any free port) or a port");
        return errors.List;
    }
}
