using Distributed.Grains.Abstractions.Training;
using Orleans.Runtime;
using Orleans.TestingHost;
using Distributed.Grains.Storage;
using Distributed.Grains.Training;

namespace Distributed.Grains.Tests;

// A silo goes away mid-trial; the trial resumes from its last checkpoint on the silos that remain and finishes.
[Trait("Category", "Integration")]
public partial class FailoverTests
{
    const int Steps = 600;

    static TrialSpec Spec() => Specs.Tiny(workers: 2, batch: 32, steps: Steps) with
    {
        Model = Specs.Tiny().Model with { HiddenSize = 32, EmbeddingSize = 16 },
        Schedule = Specs.Tiny().Schedule with { Steps = Steps, CheckpointEvery = 20, EvaluateEvery = 200 },
    };

    [Fact]
    public async Task Stopping_a_workers_silo_mid_trial_resumes_it_from_its_checkpoint()
    {
        await using var cluster = await TrainingCluster.StartAsync(3);
        const string id = "lose-a-worker";
        await cluster.Trial(id).StartAsync(Spec());
        await cluster.WaitAsync(id, s => s.CheckpointStep >= 20, TimeSpan.FromSeconds(60));

        var primary = cluster.Cluster.Silos[0];
        var victim = new[] { 0, 1 }.Select(rank => cluster.FindReplica(id, rank)!.Value.Silo).First(s => s != primary);
        var before = await cluster.Trial(id).GetStatusAsync();
        Assert.Equal(TrialState.Running, before.State);
        await cluster.Cluster.StopSiloAsync(victim);

        await AssertResumedAndCompleteAsync(cluster, id);
        Assert.All(new[] { 0, 1 }, rank => Assert.NotEqual(victim, cluster.FindReplica(id, rank)?.Silo));
    }

    [Fact]
    public async Task A_stopping_silo_drains_its_workers_so_the_trial_resumes_where_it_was()
    {
        // No periodic checkpoint before the end: without draining, the trial would start again from step 0.
        var spec = Spec() with { Schedule = Spec().Schedule with { CheckpointEvery = 100_000 } };
        await using var cluster = await TrainingCluster.StartAsync(3);
        // The silo to stop holds a worker but not the coordinator, which takes the drained checkpoint.
        var (id, before) = await StopASiloUnderATrialAsync(cluster, "drain", spec, s => s.Step >= 100, (id, coordinator) =>
            new[] { 0, 1 }.Select(rank => cluster.FindReplica(id, rank)?.Silo).FirstOrDefault(s => s is not null && !s.SiloAddress.Equals(coordinator)));
        Assert.Null(before.CheckpointStep);
        await AssertResumedAndCompleteAsync(cluster, id, atLeast: before.Step);
    }

    [Fact]
    public async Task A_stopping_coordinator_hands_its_trial_over_from_where_it_stands()
    {
        var spec = Spec() with { Schedule = Spec().Schedule with { CheckpointEvery = 100_000 } };
        await using var cluster = await TrainingCluster.StartAsync(3);
        var (id, before) = await StopASiloUnderATrialAsync(cluster, "hand-over", spec, s => s.Step >= 100, (_, coordinator) =>
            cluster.Cluster.Silos.FirstOrDefault(s => s.SiloAddress.Equals(coordinator)));
        await AssertResumedAndCompleteAsync(cluster, id, atLeast: before.Step);
    }

    [Fact]
    public async Task Stopping_the_coordinators_silo_mid_trial_resumes_it_from_its_checkpoint()
    {
        await using var cluster = await TrainingCluster.StartAsync(3);
        var (id, _) = await StopASiloUnderATrialAsync(cluster, "lose-the-coordinator", Spec(), s => s.CheckpointStep >= 20, (_, coordinator) =>
            cluster.Cluster.Silos.FirstOrDefault(s => s.SiloAddress.Equals(coordinator)));
        await AssertResumedAndCompleteAsync(cluster, id);
    }

    /// <summary>
    /// Starts trials until <paramref name="pick"/> (given the trial id and its coordinator's silo) names a silo the test
    /// may stop — never the primary, which holds the test cluster's membership — then stops it. Returns the trial and
    /// its status just before.
    /// </summary>
    static async Task<(string Id, TrialStatus Before)> StopASiloUnderATrialAsync(TrainingCluster cluster, string name, TrialSpec spec,
        Func<TrialStatus, bool> ready, Func<string, SiloAddress?, InProcessSiloHandle?> pick)
    {
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        var primary = cluster.Cluster.Silos[0];
        for (int attempt = 0; attempt < 8; attempt++)
        {
            var id = $"{name}-{attempt}";
            await cluster.Trial(id).StartAsync(spec);
            var before = await cluster.WaitAsync(id, ready, TimeSpan.FromSeconds(60));
            var coordinator = await management.GetActivationAddress(cluster.Client.GetGrain<ICoordinatorGrain>(id));
            var victim = pick(id, coordinator);
            if (victim is null || victim == primary)
            {
                await cluster.Trial(id).CancelAsync();
                continue;
            }
            await cluster.Cluster.StopSiloAsync(victim);
            return (id, before);
        }
        throw new InvalidOperationException($"no '{name}' trial put what the test stops outside the primary silo in 8 attempts");
    }

    [System.Text.RegularExpressions.GeneratedRegex("resumed from step ([0-9]+)")]
    private static partial System.Text.RegularExpressions.Regex ResumedFrom();

    /// <summary>Completed, resumed from a checkpoint (at or after <paramref name="atLeast"/> when given), every step recorded once.</summary>
    static async Task AssertResumedAndCompleteAsync(TrainingCluster cluster, string id, long? atLeast = null)
    {
        var status = await cluster.WaitFinishedAsync(id, 240);
        Assert.True(status.State == TrialState.Completed, $"{status.State}: {status.Reason}");
        Assert.Equal(Steps, status.Step);
        Assert.True(status.Recoveries >= 1, "the trial should have resumed at least once");
        Assert.Matches("resumed from step [1-9][0-9]*", status.Reason);
        long resumedFrom = long.Parse(ResumedFrom().Match(status.Reason!).Groups[1].Value);
        Assert.True(resumedFrom >= (atLeast ?? 0), $"resumed from step {resumedFrom}, but the trial was at step {atLeast} when the silo began to stop");
        var metrics = await cluster.Trial(id).GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, Steps).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
        // Evaluations are sealed with the steps (every 10 here) and, like them, come back exactly once.
        Assert.Equal([200L, 400, 600], metrics.Evaluations.Select(e => e.Step));
        var parameters = await cluster.FinalParametersAsync(status);
        Assert.All(parameters, p => Assert.True(float.IsFinite(p)));
    }
}
