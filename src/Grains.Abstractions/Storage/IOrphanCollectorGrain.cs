namespace Distributed.Grains.Abstractions.Storage;

/// <summary>What one pass of the orphan collector looked at and deleted.</summary>
[GenerateSerializer, Immutable, Alias("OrphanCollection")]
public sealed record OrphanCollection(
    [property: Id(0)] int UploadsInspected,
    [property: Id(1)] int PartsDeleted,
    [property: Id(2)] int TrialsInspected,
    [property: Id(3)] int SegmentsDeleted);

/// <summary>
/// Collects what the artifact store holds that nothing will read: parts of dataset uploads that never completed, and
/// metric segments no trial record names (written just before a crash). One grain (key 0), so passes never overlap.
/// </summary>
[Alias("IOrphanCollectorGrain")]
public interface IOrphanCollectorGrain : IGrainWithIntegerKey
{
    /// <summary>One pass: at most a bounded number of uploads and trials, carrying on next time from where it stopped.</summary>
    [Alias("Collect")] Task<OrphanCollection> CollectAsync();
}
