using Distributed.Models;
using Distributed.Options;

namespace Distributed.Grains.Hosting;

/// <summary>Names of the storage providers the grains use.</summary>
public static class StorageNames
{
    /// <summary>Durable grain state: trials (and sweeps).</summary>
    public const string State = "state";
}

/// <summary>What a silo needs to host training: where it keeps things, and how many torch threads a replica uses.</summary>
public sealed record TrainingSiloOptions
{
    /// <summary>Root of grain state and artifacts (checkpoints, results) when they are kept locally.</summary>
    public string DataDirectory { get; init; } = Path.Combine(Environment.CurrentDirectory, ".distributed");
    /// <summary>libtorch intra-op threads per replica; 1 is fastest for small RNNs on few cores, and repeatable.</summary>
    public int TorchThreadsPerReplica { get; init; } = 1;
    /// <summary>TCP port for direct gradient links from coordinators in other silos: 0 picks a free one, -1 turns them off.</summary>
    public int GradientPort { get; init; }
    /// <summary>Steps of a trial's metrics per sealed segment in the artifact store; the record keeps only the newer ones.</summary>
    public int MetricSegmentSteps { get; init; } = 1000;
    /// <summary>Bytes the replicas of this silo may hold in all (see ReplicaMemory); 0 takes 80% of the memory the process may use.</summary>
    public long MemoryBudget { get; init; }
    /// <summary>Bytes of fetched datasets a silo keeps in its data directory; copies no replica holds are evicted, least recently used first.</summary>
    public long DatasetCacheBytes { get; init; } = 8L << 30;
    /// <summary>
    /// How old a dataset part without a manifest, or a metric segment no trial record names, must be before it is
    /// collected as an orphan: longer than any upload or record write takes.
    /// </summary>
    public TimeSpan OrphanAge { get; init; } = TimeSpan.FromDays(1);

    public IReadOnlyList<string> Validate(string prefix = "silo")
    {
        var errors = new OptionErrors(prefix);
        errors.Check(!string.IsNullOrWhiteSpace(DataDirectory), "dataDirectory", "must be a directory path");
        errors.Check(TorchThreadsPerReplica is >= 1 and <= 256, "torchThreadsPerReplica", "must be 1..256");
        errors.Check(MetricSegmentSteps is >= 1 and <= 1_000_000, "metricSegmentSteps", "must be 1..1000000");
        errors.Check(DatasetCacheBytes >= 1L << 20, "datasetCacheBytes", "must be at least 1 MiB");
        errors.Check(MemoryBudget == 0 || MemoryBudget >= 64L << 20, "memoryBudget", "must be 0 (80% of the memory available) or at least 64 MiB");
        errors.Check(OrphanAge >= TimeSpan.FromMinutes(10), "orphanAge", "must be at least 10 minutes");
        errors.Check(GradientPort is >= -1 and <= 65535, "gradientPort", "must be -1 (off), 0 (any free port) or a port");
        return errors.List;
    }
}
