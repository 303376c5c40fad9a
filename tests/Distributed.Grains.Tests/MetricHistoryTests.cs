using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Hosting;
using Distributed.Grains.Training;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;

namespace Distributed.Grains.Tests;

[Collection(SharedCluster.Name)]
[Trait("Category", "Integration")]
public class MetricHistoryTests(SharedClusterFixture fixture)
{
    readonly TrainingCluster cluster = fixture.Cluster;

    [Fact]
    public async Task A_long_trial_keeps_only_recent_steps_in_its_record_and_reads_every_step_back()
    {
        var spec = Specs.Tiny(steps: 95) with { Schedule = Specs.Tiny().Schedule with { Steps = 95, CheckpointEvery = 20, EvaluateEvery = 50 } };
        var status = await StartAndFinishAsync("long-history", spec);
        Assert.Equal(TrialState.Completed, status.State);
        Assert.Equal(95, status.Step);
        Assert.Equal(95, status.LastStep!.Step);

        // What is persisted: sealed segments 1..80 in the store, and only the steps after them in the record.
        var record = await PersistedAsync("long-history");
        Assert.Equal([1L, 21, 41, 61, 81], record.Segments.Select(s => s.FirstStep));
        Assert.Equal(record.Segments.Skip(1).Select(s => s.FirstStep - 1), record.Segments.SkipLast(1).Select(s => s.LastStep));
        Assert.Equal(95, record.Segments[^1].LastStep);
        Assert.Empty(record.Steps);
        Assert.All(record.Segments, s => Assert.NotNull(cluster.Store.ReadAsync(s.Path).Result));

        var all = await cluster.Trial("long-history").GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, 95).Select(i => (long)i), all.Steps.Select(s => s.Step));
        Assert.All(all.Steps, s => Assert.True(double.IsFinite(s.Loss) && s.Loss > 0));
        Assert.Equal([50L, 95], all.Evaluations.Select(e => e.Step));
        // A read from the middle of a segment starts right after the step asked for.
        var later = await cluster.Trial("long-history").GetMetricsAsync(33);
        Assert.Equal(Enumerable.Range(34, 62).Select(i => (long)i), later.Steps.Select(s => s.Step));
        Assert.Equal(all.Steps.Skip(33), later.Steps);
    }

    [Fact]
    public async Task Segments_end_at_checkpoints_so_a_resumed_run_never_computes_a_sealed_step_again()
    {
        // Checkpoints at 30 and 60 of 70 steps, and the final one at 70: the store never holds a step past a checkpoint.
        var spec = Specs.Tiny(steps: 70) with { Schedule = Specs.Tiny().Schedule with { Steps = 70, CheckpointEvery = 30, EvaluateEvery = 70 } };
        await StartAndFinishAsync("uneven-history", spec);
        var record = await PersistedAsync("uneven-history");
        Assert.Equal([(1L, 30L), (31, 60), (61, 70)], record.Segments.Select(s => (s.FirstStep, s.LastStep)));
        var all = await cluster.Trial("uneven-history").GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, 70).Select(i => (long)i), all.Steps.Select(s => s.Step));
    }

    async Task<TrialStatus> StartAndFinishAsync(string id, TrialSpec spec)
    {
        await cluster.Trial(id).StartAsync(spec);
        return await cluster.WaitFinishedAsync(id);
    }

    async Task<TrialRecord> PersistedAsync(string trialId)
    {
        var storage = cluster.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.State);
        var state = new GrainState<TrialRecord>(new TrialRecord());
        await storage.ReadStateAsync("trial", GrainId.Create("trial", trialId), state);
        return Assert.IsType<TrialRecord>(state.State);
    }
}
