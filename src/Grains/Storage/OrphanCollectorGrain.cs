using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Training;
using Microsoft.Extensions.Logging;
using Distributed.Options;

namespace Distributed.Grains.Storage;

/// <summary>
/// One pass over the store's dataset folders without a manifest and the trials with metric segments, at most
/// <see cref="PerPass"/> of each, resuming after the last one seen. Each owner decides and deletes: the dataset grain
/// (the only writer of its parts) and the trial grain (the only writer of its record).
/// </summary>
public sealed class OrphanCollectorGrain(IArtifactStore store, ILogger<OrphanCollectorGrain> log) : Grain, IOrphanCollectorGrain
{
    public const int PerPass = 64;
    string uploadCursor = "", trialCursor = "";

    public async Task<OrphanCollection> CollectAsync()
    {
        var paths = await store.ListAsync(ArtifactPaths.Datasets);
        var manifests = paths.ToHashSet(StringComparer.Ordinal);
        var unfinished = paths.Select(p => p[ArtifactPaths.Datasets.Length..].Split('/')[0])
            .Where(DatasetReference.IsHash).Distinct()
            .Where(h => !manifests.Contains(ArtifactPaths.DatasetManifest(h))).ToList();
        var uploads = Next(unfinished, ref uploadCursor);
        int parts = 0;
        foreach (var hash in uploads) parts += await GrainFactory.GetGrain<IDatasetGrain>(hash).DropIfAbandonedAsync();

        var withSegments = (await store.ListAsync(ArtifactPaths.Trials))
            .Select(ArtifactPaths.TrialOfMetricSegment).OfType<string>().Distinct().ToList();
        var trials = Next(withSegments, ref trialCursor);
        int segments = 0;
        foreach (var trial in trials) segments += await GrainFactory.GetGrain<ITrialGrain>(trial).DropOrphanSegmentsAsync();

        if (parts + segments > 0) log.LogInformation("Collected {Parts} parts of abandoned uploads and {Segments} orphan metric segments", parts, segments);
        return new OrphanCollection(uploads.Count, parts, trials.Count, segments);
    }

    /// <summary>Up to <see cref="PerPass"/> keys after the cursor (in ordinal order), wrapping round; the cursor moves to the last.</summary>
    static List<string> Next(List<string> keys, ref string cursor)
    {
        var after = cursor;
        var chosen = keys.Where(k => string.CompareOrdinal(k, after) > 0).Order(StringComparer.Ordinal).Take(PerPass).ToList();
        if (chosen.Count < PerPass)
            chosen.AddRange(keys.Where(k => string.CompareOrdinal(k, after) <= 0).Order(StringComparer.Ordinal).Take(PerPass - chosen.Count));
        cursor = chosen.Count == 0 ? "" : chosen[^1];
        return chosen;
    }
}
