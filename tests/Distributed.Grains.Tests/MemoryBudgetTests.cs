using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Hosting;
using Distributed.Grains.Training;
using Distributed.Models;
using Microsoft.Extensions.DependencyInjection;
using Distributed.Options;

namespace Distributed.Grains.Tests;

[Trait("Category", "Integration")]
public class MemoryBudgetTests
{
    const long MiB = 1L << 20;

    [Fact]
    public async Task A_trial_larger_than_every_silos_budget_is_refused_naming_the_option_to_shrink()
    {
        await using var cluster = await TrainingCluster.StartAsync(1, _ => 64 * MiB);
        var huge = Specs.Tiny() with { Training = Specs.Tiny().Training with { BatchSize = 4096 }, Model = new ModelOptions { HiddenSize = 2048, EmbeddingSize = 512 } };

        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => cluster.Trial("budget/huge").StartAsync(huge));
        Assert.Contains("memory budget is 64 MiB", e.Message);
        Assert.Contains("training.batchSize (4096)", e.Message);
        Assert.Equal(TrialState.Queued, (await cluster.Trial("budget/huge").GetStatusAsync()).State);

        var sweep = new SweepSpec { Name = "huge", Data = huge.Data, Model = huge.Model, Training = huge.Training, Parallel = huge.Parallel, Schedule = huge.Schedule };
        var refused = await Assert.ThrowsAnyAsync<ArgumentException>(() => cluster.Client.GetGrain<ISweepGrain>("huge").SubmitAsync(sweep));
        Assert.Contains("trial 1 (the base trial): one replica needs about", refused.Message);
        Assert.Null(await cluster.Client.GetGrain<ISweepGrain>("huge").GetStatusAsync());

        // A sweep's trial (checked at submit, but the cluster shrank since) fails with the reason instead of throwing at the sweep.
        var inSweep = await cluster.Trial("shrunk/1").StartInSweepAsync(huge, "shrunk", null);
        Assert.Equal(TrialState.Failed, inSweep.State);
        Assert.Contains("memory budget is 64 MiB", inSweep.Reason);
    }

    [Fact]
    public async Task Two_silos_of_different_budgets_hold_the_replicas_each_can()
    {
        // Long enough that the replicas are still there when the test looks; it is cancelled after.
        var spec = Specs.Tiny(workers: 4) with { Schedule = Specs.Tiny().Schedule with { Steps = 100_000, EvaluateEvery = 100_000, CheckpointEvery = 100_000 } };
        long replica = ReplicaMemory.Of(spec).Total;
        // Silo 0 holds one replica of the trial, silo 1 three.
        long[] budgets = [replica * 3 / 2, replica * 7 / 2];
        await using var cluster = await TrainingCluster.StartAsync(2, i => budgets[i]);
        await WaitForBudgetsAsync(cluster, budgets);

        await cluster.Trial("budget/spread").StartAsync(spec);
        var running = await cluster.WaitAsync("budget/spread", s => s.Step > 0 || s.IsFinished, TimeSpan.FromSeconds(60));
        Assert.Equal(TrialState.Running, running.State);
        var placed = Enumerable.Range(0, 4).Select(rank => cluster.FindReplica("budget/spread", rank)).ToList();
        Assert.All(placed, p => Assert.NotNull(p));
        var perSilo = placed.GroupBy(p => p!.Value.Silo.SiloAddress).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(1, perSilo.GetValueOrDefault(cluster.Cluster.Silos[0].SiloAddress));
        Assert.Equal(3, perSilo.GetValueOrDefault(cluster.Cluster.Silos[1].SiloAddress));
        foreach (var silo in cluster.Cluster.Silos)
        {
            var (reserved, budget, _) = silo.ServiceProvider.GetRequiredService<ReplicaHost>().Memory;
            Assert.InRange(reserved, 1, budget);
        }
        Assert.Equal(TrialState.Cancelled, (await cluster.Trial("budget/spread").CancelAsync()).State);
    }

    [Fact]
    public async Task A_silo_refuses_a_replica_its_budget_cannot_hold_beside_the_others()
    {
        var spec = Specs.Tiny();
        long replica = ReplicaMemory.Of(spec).Total;
        await using var cluster = await TrainingCluster.StartAsync(1, _ => replica * 3 / 2);
        var host = cluster.Cluster.Silos[0].ServiceProvider.GetRequiredService<ReplicaHost>();

        Assert.Null(host.Reserve("a/0", replica));
        var refusal = host.Reserve("b/0", replica);
        Assert.NotNull(refusal);
        Assert.Contains("its other 1 replicas hold", refusal);
        host.Close("a/0");
        Assert.Null(host.Reserve("b/0", replica));
        host.Close("b/0");
    }

    [Fact]
    public async Task A_trial_that_finds_no_room_waits_without_failing_and_runs_once_room_is_made()
    {
        var hog = Specs.Tiny() with { Schedule = Specs.Tiny().Schedule with { Steps = 100_000, EvaluateEvery = 100_000, CheckpointEvery = 100_000 } };
        // One recovery allowed: were waiting for room counted as recoveries, this trial would fail within seconds.
        var late = Specs.Tiny(steps: 20) with { Parallel = Specs.Tiny().Parallel with { MaxRecoveries = 1 } };
        long replica = ReplicaMemory.Of(hog).Total;
        await using var cluster = await TrainingCluster.StartAsync(1, _ => replica * 3 / 2);
        int waiting = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Distributed.Grains.Telemetry.TrainingMeter.Name && instrument.Name == "distributed.trials.waiting") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((_, delta, _, _) => Interlocked.Add(ref waiting, delta));
        listener.Start();

        await cluster.Trial("room/hog").StartAsync(hog);
        Assert.Equal(TrialState.Running, (await cluster.WaitAsync("room/hog", s => s.Step > 0 || s.IsFinished, TimeSpan.FromSeconds(60))).State);
        await cluster.Trial("room/late").StartAsync(late);
        await Task.Delay(TimeSpan.FromSeconds(8));
        var held = await cluster.Trial("room/late").GetStatusAsync();
        Assert.Equal(TrialState.Running, held.State);
        Assert.Equal(0, held.Step);
        Assert.StartsWith("waiting for room: worker room/late/0", held.Reason);
        Assert.Contains("memory budget", held.Reason);
        Assert.Equal(1, Volatile.Read(ref waiting));

        // The hog goes: its room goes to the waiting trial, which runs to the end.
        Assert.Equal(TrialState.Cancelled, (await cluster.Trial("room/hog").CancelAsync()).State);
        var done = await cluster.WaitFinishedAsync("room/late");
        Assert.Equal(TrialState.Completed, done.State);
        Assert.Equal(20, done.Step);
        Assert.Null(done.Reason);
        Assert.Equal(0, Volatile.Read(ref waiting));
    }

    /// <summary>Silo metadata spreads after the silos join; placement needs every silo's budget in every silo's view.</summary>
    static async Task WaitForBudgetsAsync(TrainingCluster cluster, long[] budgets)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var silos = cluster.Cluster.Silos;
        while (!silos.All(viewer => silos.Select((s, i) => viewer.ServiceProvider.GetRequiredService<MemoryBudget>().Of(s.SiloAddress) == budgets[i]).All(ok => ok)))
        {
            Assert.True(DateTime.UtcNow < deadline, "the silos did not learn each other's memory budgets within 20 s");
            await Task.Delay(100);
        }
    }
}
