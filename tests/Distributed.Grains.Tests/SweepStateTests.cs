using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Hosting;
using Distributed.Grains.Storage;
using Distributed.Grains.Sweeps;
using Distributed.Grains.Training;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using Distributed.Options;

namespace Distributed.Grains.Tests;

// What a sweep keeps, and what deleting it leaves: records that do not grow with evaluations, and nothing at all.
[Collection(SharedCluster.Name)]
[Trait("Category", "Integration")]
public class SweepStateTests(SharedClusterFixture fixture)
{
    readonly TrainingCluster cluster = fixture.Cluster;

    [Fact]
    public async Task The_sweep_record_does_not_grow_with_evaluations_and_trials_seal_theirs()
    {
        // The same two trials, evaluated 3 times or 30 times each: the sweep's persisted record is the same size.
        var sizes = new List<int>();
        foreach (var (id, every) in new[] { ("state-few", 20), ("state-many", 2) })
        {
            var spec = SweepTests.Spec("learningRate: [0.01, 0.003]", steps: 60, extra: "earlyStopping: { rule: median, gracePeriod: 1000, minTrials: 1 }");
            spec = spec with { Schedule = spec.Schedule with { EvaluateEvery = every, EvaluationExamples = 8 } };
            var status = await SweepTests.WaitAsync(await SubmitAsync(id, spec), TimeSpan.FromSeconds(120));
            Assert.All(status.Trials, t => Assert.Equal(TrialState.Completed, t.State));

            var record = await PersistedAsync<SweepRecord>("sweep", id);
            Assert.Empty(record.History);
            Assert.Equal(new Dictionary<int, long> { [1] = 60, [2] = 60 }, record.Judged);
            sizes.Add(Serializer.SerializeToArray(record).Length);

            // Each trial's evaluations: sealed with the steps at each checkpoint (every 20 here), read back once each, in order.
            foreach (var t in status.Trials)
            {
                var trial = await PersistedAsync<TrialRecord>("trial", t.TrialId);
                // An evaluation reaches the trial just after the checkpoint of its step, so the last one waits for a next segment.
                Assert.Equal([60L], trial.Evaluations.Select(e => e.Step));
                Assert.Equal(new long[] { 20 - every, 40 - every, 60 - every }, trial.Segments.Select(s => s.LastEvaluation?.Step ?? 0));
                var metrics = await cluster.Trial(t.TrialId).GetMetricsAsync(-1);
                Assert.Equal(Enumerable.Range(1, 60 / every).Select(i => (long)(i * every)), metrics.Evaluations.Select(e => e.Step));
                Assert.Equal(metrics.Evaluations.Skip(1), await cluster.Trial(t.TrialId).GetEvaluationsAsync(metrics.Evaluations[0].Step));
                Assert.Equal(metrics.Evaluations[^1], (await cluster.Trial(t.TrialId).GetStatusAsync()).LastEvaluation);
                // The sweep's best and final are those of the evaluations it judged.
                Assert.Equal(metrics.Evaluations.Min(e => e.Loss), t.Best);
                Assert.Equal(metrics.Evaluations[^1].Loss, t.Final);
            }
        }
        Assert.True(Math.Abs(sizes[1] - sizes[0]) < 64, $"record of 6 evaluations: {sizes[0]} bytes; of 60: {sizes[1]} bytes");
    }

    [Fact]
    public async Task A_promoted_trial_resumes_from_its_rung_and_every_evaluation_is_recorded_once()
    {
        // ASHA pauses each trial at step 20 and resumes the best from that checkpoint: a resume across sealed segments.
        var spec = SweepTests.Spec("learningRate: [0.00001, 0.01, 0.00003]", maxConcurrent: 1, steps: 80,
            extra: "earlyStopping: { rule: asha, gracePeriod: 20, reductionFactor: 3 }");
        spec = spec with { Schedule = spec.Schedule with { EvaluateEvery = 5, CheckpointEvery = 20 } };
        var status = await SweepTests.WaitAsync(await SubmitAsync("state-asha", spec), TimeSpan.FromSeconds(120));
        var best = status.Trials.Single(t => t.State == TrialState.Completed);
        Assert.Equal("0.01", best.Factors[0].Value);

        var metrics = await cluster.Trial(best.TrialId).GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, 16).Select(i => (long)(5 * i)), metrics.Evaluations.Select(e => e.Step));
        Assert.Equal(Enumerable.Range(1, 80).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
        var record = await PersistedAsync<TrialRecord>("trial", best.TrialId);
        Assert.Equal([80L], record.Evaluations.Select(e => e.Step));
        Assert.Equal([15L, 35, 55, 75], record.Segments.Select(s => s.LastEvaluation!.Step));
        Assert.Equal([20L, 60], (await PersistedAsync<SweepRecord>("sweep", "state-asha")).Rungs.Keys.Order());
    }

    [Fact]
    public async Task Deleting_a_sweep_removes_its_trials_files_records_and_index_entry_and_a_running_one_needs_cancel()
    {
        var store = cluster.Store;
        var index = cluster.Client.GetGrain<ISweepIndexGrain>(0);
        var done = await SubmitAsync("doomed", SweepTests.Spec("layers: [1, 2]", steps: 40));
        var finished = await SweepTests.WaitAsync(done, TimeSpan.FromSeconds(120));
        Assert.NotEmpty(await store.ListAsync("trials/doomed/"));
        Assert.NotEmpty(await store.ListAsync("sweeps/doomed/"));

        var deletion = await done.DeleteAsync(cancelFirst: false);
        Assert.Equal(new SweepDeletion("doomed", 2, deletion.Artifacts, false), deletion);
        Assert.True(deletion.Artifacts >= 2 * 4 + 2, $"{deletion.Artifacts} artifacts");
        Assert.Empty(await store.ListAsync("trials/doomed/"));
        Assert.Empty(await store.ListAsync("sweeps/doomed/"));
        Assert.DoesNotContain("doomed", await index.ListAsync());
        Assert.Null(await done.GetStatusAsync());
        foreach (var t in finished.Trials)
        {
            Assert.Null(await cluster.Trial(t.TrialId).GetSpecAsync());
            Assert.Null((await PersistedAsync<TrialRecord>("trial", t.TrialId)).Spec);
        }
        Assert.Null((await PersistedAsync<SweepRecord>("sweep", "doomed")).Spec);
        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => done.DeleteAsync(cancelFirst: true));
        Assert.Equal("no sweep 'doomed'", unknown.Message);
        var bad = await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.GetGrain<ISweepGrain>("../x").DeleteAsync(true));
        Assert.StartsWith("sweep id '../x'", bad.Message);

        // The id is free again: a new sweep under it starts from nothing.
        var again = await SubmitAsync("doomed", SweepTests.Spec("layers: [1]", steps: 3000));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await again.GetStatusAsync())!.Trials[0].Step < 1 && DateTime.UtcNow < deadline) await Task.Delay(100);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => again.DeleteAsync(cancelFirst: false));
        Assert.Equal("sweep doomed is running; cancel it first, or delete it with --cancel", refused.Message);
        Assert.Equal(SweepState.Running, (await again.GetStatusAsync())!.State);
        var cancelled = await again.DeleteAsync(cancelFirst: true);
        Assert.True(cancelled.Cancelled);
        Assert.Empty(await store.ListAsync("trials/doomed/"));
        Assert.DoesNotContain("doomed", await index.ListAsync());
    }

    [Fact]
    public async Task A_deleted_sweep_no_longer_names_its_datasets()
    {
        var content = DatasetTests.Corpus("xyz", 200, 11);
        var hash = DatasetReference.HashOf(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)));
        var upload = cluster.Client.GetGrain<IDatasetGrain>(hash);
        await upload.PutPartAsync(0, System.Text.Encoding.UTF8.GetBytes(content));
        await upload.CompleteAsync(System.Text.Encoding.UTF8.GetByteCount(content));
        var spec = SweepTests.Spec("layers: [1]", steps: 20);
        spec = spec with { Data = spec.Data with { TsvPath = DatasetReference.Format(hash, "named.tsv") } };
        var sweep = await SubmitAsync("names-data", spec);
        await SweepTests.WaitAsync(sweep, TimeSpan.FromSeconds(60));
        var catalog = cluster.Client.GetGrain<IDatasetCatalogGrain>(0);
        Assert.Equal(["names-data"], (await catalog.ListAsync()).Single(d => d.Info.Hash == hash).Sweeps);

        await sweep.DeleteAsync(cancelFirst: false);
        Assert.Empty((await catalog.ListAsync()).Single(d => d.Info.Hash == hash).Sweeps);
        Assert.Empty((await catalog.DeleteAsync(hash)).Sweeps);
    }

    [Fact]
    public async Task A_record_of_the_old_shape_with_every_evaluation_loads_and_is_reduced_to_the_last_judged_steps()
    {
        var spec = SweepTests.Spec("layers: [1, 2]", steps: 40);
        var old = new SweepRecord
        {
            Spec = spec, State = SweepState.Completed, CreatedAt = DateTimeOffset.UtcNow, EndedAt = DateTimeOffset.UtcNow,
            Trials = [new SweepTrial { Number = 1, TrialId = "old-shape/1", State = TrialState.Completed, Step = 40, Steps = 40, Best = 1.5, Final = 1.5 },
                      new SweepTrial { Number = 2, TrialId = "old-shape/2", State = TrialState.Completed, Step = 40, Steps = 40, Best = 1.2, Final = 1.3 }],
            History = [new(1, 20, 1.9), new(1, 40, 1.5), new(2, 20, 1.2), new(2, 40, 1.3)],
        };
        var storage = cluster.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.State);
        await storage.WriteStateAsync("sweep", GrainId.Create("sweep", "old-shape"), new GrainState<SweepRecord>(old));

        var sweep = cluster.Client.GetGrain<ISweepGrain>("old-shape");
        var status = (await sweep.GetStatusAsync())!;
        Assert.Equal([1.5, 1.2], status.Trials.Select(t => t.Best!.Value));
        // Written in the new shape when the grain goes.
        await sweep.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await Task.Delay(200);
        var record = await PersistedAsync<SweepRecord>("sweep", "old-shape");
        Assert.Empty(record.History);
        Assert.Equal(new Dictionary<int, long> { [1] = 40, [2] = 40 }, record.Judged);
        Assert.Equal(2, (await sweep.DeleteAsync(cancelFirst: false)).Trials);
    }

    async Task<ISweepGrain> SubmitAsync(string id, SweepSpec spec)
    {
        var sweep = cluster.Client.GetGrain<ISweepGrain>(id);
        await sweep.SubmitAsync(spec);
        return sweep;
    }

    Serializer Serializer => cluster.Cluster.Silos[0].ServiceProvider.GetRequiredService<Serializer>();

    async Task<T> PersistedAsync<T>(string type, string key) where T : class, new()
    {
        var storage = cluster.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.State);
        var state = new GrainState<T>(new T());
        await storage.ReadStateAsync(type, GrainId.Create(type, key), state);
        return Assert.IsType<T>(state.State);
    }
}
