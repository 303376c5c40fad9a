using Distributed.Grains.Storage;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Distributed.Grains.Hosting;

/// <summary>Places the workers of a trial ("trialId/rank") on distinct silos, round-robin from a silo the trial id picks.</summary>
[GenerateSerializer, Immutable, Alias("SpreadPlacement")]
public sealed class SpreadPlacement : PlacementStrategy
{
    internal static readonly SpreadPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SpreadPlacementAttribute() : PlacementAttribute(SpreadPlacement.Instance);

public sealed class SpreadPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target).OrderBy(s => s.ToString(), StringComparer.Ordinal).ToArray();
        var key = target.GrainIdentity.Key.ToString()!;
        int slash = key.LastIndexOf('/');
        int rank = slash >= 0 && int.TryParse(key.AsSpan(slash + 1), out var r) ? r : 0;
        var trial = slash >= 0 ? key[..slash] : key;
        int start = (int)((uint)KeyHash.Of(trial) % (uint)silos.Length);
        return Task.FromResult(silos[(start + rank) % silos.Length]);
    }
}
