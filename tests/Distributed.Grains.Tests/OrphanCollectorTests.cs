using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Training;
using Distributed.Options;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Tests;

// What the store holds that nothing will read goes; what a record names, a manifest completes or is young stays.
[Trait("Category", "Integration")]
public class OrphanCollectorTests
{
    [Fact]
    public async Task Abandoned_uploads_and_unnamed_metric_segments_are_collected_once_old()
    {
        await using var cluster = await TrainingCluster.StartAsync(1);
        var store = cluster.Store;
        await cluster.Trial("kept").StartAsync(Specs.Tiny(steps: 30));
        await cluster.WaitFinishedAsync("kept");
        var before = await cluster.Trial("kept").GetMetricsAsync(-1);

        string abandoned = new('a', 64), young = new('b', 64), complete = new('c', 64);
        await store.WriteAsync(ArtifactPaths.DatasetPart(abandoned, 0), new byte[] { 1 });
        await store.WriteAsync(ArtifactPaths.DatasetPart(abandoned, 1), new byte[] { 2 });
        await store.WriteAsync(ArtifactPaths.DatasetPart(young, 0), new byte[] { 3 });
        await store.WriteAsync(ArtifactPaths.DatasetPart(complete, 0), new byte[] { 4 });
        await store.WriteAsync(ArtifactPaths.DatasetManifest(complete), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new DatasetInfo(complete, 1, 1, DateTimeOffset.UtcNow)));
        // Written before a crash, never named by a record: one of a trial that has a record, one of a trial that has none.
        string stray = ArtifactPaths.MetricSegment("kept", 999), ghost = ArtifactPaths.MetricSegment("ghost/1", 1), fresh = MetricHistory.EvaluationsPath("kept", 777);
        foreach (var path in new[] { stray, ghost, fresh }) await store.WriteAsync(path, "[]"u8.ToArray());

        // Everything is two days old but the young upload and the fresh segment (the silo's orphan age is one day).
        var root = Path.Combine(cluster.DataDirectory, "artifacts");
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddDays(-2));
        foreach (var path in new[] { ArtifactPaths.DatasetPart(young, 0), fresh }) File.SetLastWriteTimeUtc(Path.Combine(root, path), DateTime.UtcNow);

        var pass = await cluster.Client.GetGrain<IOrphanCollectorGrain>(0).CollectAsync();
        Assert.Equal(new OrphanCollection(UploadsInspected: 2, PartsDeleted: 2, TrialsInspected: 2, SegmentsDeleted: 2), pass);
        Assert.Empty(await store.ListAsync(ArtifactPaths.Dataset(abandoned)));
        Assert.Single(await store.ListAsync(ArtifactPaths.Dataset(young)));
        Assert.Equal(2, (await store.ListAsync(ArtifactPaths.Dataset(complete))).Count);
        Assert.Null(await store.ReadAsync(stray));
        Assert.Null(await store.ReadAsync(ghost));
        Assert.NotNull(await store.ReadAsync(fresh));
        // The trial's own segments are untouched: every step and evaluation reads back as before.
        var after = await cluster.Trial("kept").GetMetricsAsync(-1);
        Assert.Equal(before.Steps, after.Steps);
        Assert.Equal(before.Evaluations, after.Evaluations);
        Assert.Equal(TrialState.Completed, (await cluster.Trial("kept").GetStatusAsync()).State);

        // Nothing left to collect: the next pass deletes nothing.
        var again = await cluster.Client.GetGrain<IOrphanCollectorGrain>(0).CollectAsync();
        Assert.Equal(0, again.PartsDeleted + again.SegmentsDeleted);
    }
}
