using Distributed.Grains.Storage;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Distributed.Grains.Hosting;

/// <summary>
/// Places the workers of a trial ("trialId/rank") on distinct silos, round-robin from a silo the trial id picks,
/// skipping silos whose memory budget already holds as many of the trial's replicas as it can.
/// </summary>
[GenerateSerializer, Immutable, Alias("SpreadPlacement")]
public sealed class SpreadPlacement : PlacementStrategy
{
    internal static readonly SpreadPlacement Instance = new();

    /// <summary>Request-context keys a coordinator sets when it loads workers: bytes per replica, and how many.</summary>
    public const string ReplicaBytesKey = "distributed.replicaBytes", ReplicasKey = "distributed.replicas";
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SpreadPlacementAttribute() : PlacementAttribute(SpreadPlacement.Instance);

public sealed class SpreadPlacementDirector(MemoryBudget budgets) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target).OrderBy(s => s.ToString(), StringComparer.Ordinal).ToArray();
        var key = target.GrainIdentity.Key.ToString()!;
        int slash = key.LastIndexOf('/');
        int rank = slash >= 0 && int.TryParse(key.AsSpan(slash + 1), out var r) ? r : 0;
        var trial = slash >= 0 ? key[..slash] : key;
        int start = (int)((uint)KeyHash.Of(trial) % (uint)silos.Length);
        var data = target.RequestContextData;
        if (data is not null && data.TryGetValue(SpreadPlacement.ReplicaBytesKey, out var b) && b is long bytes && bytes > 0
            && data.TryGetValue(SpreadPlacement.ReplicasKey, out var n) && n is int replicas && rank < replicas)
            return Task.FromResult(Plan(silos, start, bytes, replicas)[rank]);
        return Task.FromResult(silos[(start + rank) % silos.Length]);
    }

    /// <summary>
    /// The silo of every rank: round-robin from <paramref name="start"/> over silos that can still hold one more of the
    /// trial's replicas. Every rank computes the same plan, so ranks placed one by one still end up within the budgets.
    /// When the budgets hold too few, the rest go round-robin and the silos refuse them with the reason.
    /// </summary>
    SiloAddress[] Plan(SiloAddress[] silos, int start, long bytes, int replicas)
    {
        var room = silos.Select(s => budgets.Of(s) is { } budget ? budget / bytes : long.MaxValue).ToArray();
        var plan = new SiloAddress[replicas];
        int next = start;
        for (int rank = 0; rank < replicas; rank++)
        {
            int tried = 0;
            while (room[next % silos.Length] <= 0 && tried++ < silos.Length) next++;
            int chosen = next % silos.Length;
            room[chosen]--;
            plan[rank] = silos[chosen];
            next = chosen + 1;
        }
        return plan;
    }
}
