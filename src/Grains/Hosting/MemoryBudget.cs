using Distributed.Grains.Abstractions.Training;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime;

namespace Distributed.Grains.Hosting;

/// <summary>
/// How much memory the replicas of a silo may hold, and what every silo of the cluster published of its own.
/// A silo refuses a replica its budget cannot hold; a trial that no silo could hold is refused when it starts,
/// naming the option to shrink, instead of failing on one silo after another.
/// </summary>
public sealed class MemoryBudget(TrainingSiloOptions options, ISiloMetadataCache metadata, IClusterMembershipService membership)
{
    /// <summary>The silo metadata key under which each silo publishes its budget in bytes.</summary>
    public const string MetadataKey = "distributed.memoryBudget";

    /// <summary>Share of the memory the process may use (the cgroup limit, else physical memory) that replicas may take.</summary>
    const double DefaultShare = 0.8;

    /// <summary>This silo's budget: the configured one, or 80% of what .NET reports available (it honours cgroup limits).</summary>
    public long Local { get; } = Resolve(options.MemoryBudget);

    public static long Resolve(long configured) =>
        configured > 0 ? configured : (long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * DefaultShare);

    /// <summary>The budget a silo published; null when it has not (an older silo, or its metadata is not here yet).</summary>
    public long? Of(SiloAddress silo) =>
        metadata.GetSiloMetadata(silo).Metadata.TryGetValue(MetadataKey, out var text) && long.TryParse(text, out var bytes) ? bytes : null;

    /// <summary>
    /// Why no placement could hold the trial's replicas within the silos' budgets, naming the option to shrink; empty
    /// when it fits. Silos whose budget is not known count as large enough: refusing on missing metadata would stop a cluster.
    /// </summary>
    public IReadOnlyList<string> Problems(TrialSpec spec, string at, long? datasetBytes = null)
    {
        var replica = ReplicaMemory.Of(spec, datasetBytes);
        var silos = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToList();
        var budgets = silos.Count == 0 ? [Local] : silos.Select(Of).ToList();
        if (budgets.Any(b => b is null)) return [];
        long largest = budgets.Max(b => b!.Value);
        if (replica.Total > largest)
            return [$"{at}: one replica needs about {replica} but the largest silo's memory budget is {ReplicaMemory.Format(largest)}; " +
                    $"shrink {replica.Shrink(spec)}, or give silos more memory (--memory-budget)"];
        long replicas = budgets.Sum(b => b!.Value / replica.Total);
        if (replicas < spec.Parallel.Workers)
            return [$"{at}: {spec.Parallel.Workers} workers need about {ReplicaMemory.Format(replica.Total)} each, but the silos' memory budgets " +
                    $"({string.Join(", ", budgets.Select(b => ReplicaMemory.Format(b!.Value)))}) hold {replicas}; lower parallel.workers or shrink {replica.Shrink(spec)}"];
        return [];
    }
}
