using System.Text;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Storage;
using Distributed.Sweeps;

namespace Distributed.Grains.Tests;

// Sweeps through real grains: scheduling, early stopping, cancellation and a restart in the middle.
[Collection(SharedCluster.Name)]
[Trait("Category", "Integration")]
public class SweepTests(SharedClusterFixture fixture)
{
    readonly TrainingCluster cluster = fixture.Cluster;

    internal static SweepSpec Spec(string space, int maxConcurrent = 2, int steps = 60, string extra = "")
    {
        var yaml = $$"""
            data: { task: reverse, examples: 800, minLength: 3, maxLength: 6, seed: 3 }
            model: { embeddingSize: 8, hiddenSize: 16 }
            training: { batchSize: 16, learningRate: 0.003 }
            schedule: { steps: {{steps}}, evaluateEvery: 20, evaluationExamples: 40, checkpointEvery: 20 }
            search: { space: { {{space}} } }
            maxConcurrent: {{maxConcurrent}}
            objective: { metric: loss }
            {{extra}}
            """;
        var (spec, errors) = SweepSpecReader.Read(yaml, "test.yaml");
        Assert.Empty(errors);
        return spec!;
    }

    internal static async Task<SweepStatus> WaitAsync(ISweepGrain sweep, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var status = (await sweep.GetStatusAsync())!;
            if (status.IsFinished) return status;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"sweep still running: {string.Join(", ", status.Trials.Select(t => $"{t.Number}:{t.State}@{t.Step}"))}");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task A_sweep_runs_every_trial_at_most_max_concurrent_at_once()
    {
        var sweep = cluster.Client.GetGrain<ISweepGrain>("grid");
        var submitted = await sweep.SubmitAsync(Spec("layers: [1, 2], bidirectional: [false, true]", maxConcurrent: 2));
        Assert.Equal(4, submitted.Trials.Count);
        var status = await WaitAsync(sweep, TimeSpan.FromSeconds(120));

        Assert.Equal(SweepState.Completed, status.State);
        Assert.All(status.Trials, t =>
        {
            Assert.Equal(TrialState.Completed, t.State);
            Assert.Equal(60, t.Step);
            Assert.NotNull(t.Best);
            Assert.NotNull(t.CheckpointPath);
            // Each completed trial's best validation checkpoint was tested on the held-out split.
            Assert.InRange(t.Test!.Value, 0, 50);
        });
        // Never more than two trials between their start and end at the same moment.
        var moments = status.Trials.SelectMany(t => new[] { (At: t.StartedAt!.Value, Delta: 1), (At: t.EndedAt!.Value, Delta: -1) })
            .OrderBy(m => m.At).ThenBy(m => m.Delta);
        int running = 0, most = 0;
        foreach (var m in moments) most = Math.Max(most, running += m.Delta);
        Assert.True(most <= 2, $"{most} trials ran at once");
        Assert.Equal(["layers=1 bidirectional=false", "layers=1 bidirectional=true", "layers=2 bidirectional=false", "layers=2 bidirectional=true"],
            status.Trials.Select(t => string.Join(" ", t.Factors.Select(f => $"{f.Factor}={f.Value}"))));
        Assert.Equal(status.Trials.Select(t => $"grid/{t.Number}"), status.Trials.Select(t => t.TrialId));

        // The results are documents in the artifact store as well, readable with storage tools alone.
        using (var results = JsonDocument.Parse((await cluster.Store.ReadAsync(ArtifactPaths.SweepJson("grid")))!))
        {
            var trials = results.RootElement.GetProperty("trials");
            Assert.Equal(4, trials.GetArrayLength());
            Assert.All(trials.EnumerateArray(), t => Assert.Equal(60, t.GetProperty("history").GetProperty("steps").GetArrayLength()));
        }
        var csv = Encoding.UTF8.GetString((await cluster.Store.ReadAsync(ArtifactPaths.SweepCsv("grid")))!);
        Assert.Equal(5, csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        using var trial = JsonDocument.Parse((await cluster.Store.ReadAsync(ArtifactPaths.TrialResult("grid/1")))!);
        Assert.Equal("completed", trial.RootElement.GetProperty("status").GetProperty("state").GetString());
        Assert.True(trial.RootElement.GetProperty("status").GetProperty("test").GetProperty("greedy").GetProperty("examples").GetInt32() > 0);
        Assert.Contains("test_loss", csv.Split('\n')[0]);
        Assert.Equal(60, trial.RootElement.GetProperty("steps").GetArrayLength());
        Assert.Equal(1, trial.RootElement.GetProperty("spec").GetProperty("model").GetProperty("layers").GetInt32());
    }

    [Fact]
    public async Task The_confirmation_stage_runs_the_top_configurations_to_the_end_and_finds_no_winner_between_equal_ones()
    {
        // parallel.checksumEvery changes nothing the model computes: its two values train identically at every seed.
        var spec = Spec("parallel.checksumEvery: [5, 7], learningRate: [0.00001, 0.003]", maxConcurrent: 2, steps: 60,
            extra: "earlyStopping: { rule: asha, gracePeriod: 20, reductionFactor: 2 }\nconfirm: { top: 2, seeds: 2 }");
        var sweep = cluster.Client.GetGrain<ISweepGrain>("confirm");
        await sweep.SubmitAsync(spec);
        var status = await WaitAsync(sweep, TimeSpan.FromSeconds(180));

        Assert.Equal(SweepState.Completed, status.State);
        var search = status.Trials.Where(t => !t.Confirmation).ToList();
        var confirming = status.Trials.Where(t => t.Confirmation).ToList();
        Assert.Equal(4, search.Count);
        // The two configurations with the working learning rate, each at two seeds the search never used, run to the end
        // although ASHA stopped search trials at its rungs.
        Assert.Equal([5, 6, 7, 8], confirming.Select(t => t.Number));
        Assert.All(confirming, t =>
        {
            Assert.Equal("0.003", t.Factors.Single(f => f.Factor == "learningRate").Value);
            Assert.Equal(TrialState.Completed, t.State);
            Assert.Equal(60, t.Step);
            Assert.NotNull(t.Test);
        });
        Assert.Equal([2UL, 3UL], confirming.Select(t => t.Seed).Distinct().Order());
        Assert.DoesNotContain(confirming, t => search.Any(s => s.Seed == t.Seed));
        Assert.Contains(search, t => t.State == TrialState.StoppedEarly);

        var result = Confirmation.Of(status)!;
        Assert.True(result.Finished);
        Assert.Null(result.Winner);
        Assert.Equal(2, result.Lead!.Pairs);
        Assert.StartsWith("no winner: the top configurations are indistinguishable over 2 seeds", result.Verdict);
    }

    [Fact]
    public async Task Asha_pauses_every_trial_at_the_first_rung_and_promotes_only_the_best()
    {
        // Rungs at 20, 60 and 180 of 200 steps with η = 3: of four learning rates, the best goes on at each rung.
        // One at a time, so the order trials reach a rung is the seeded start order and not a race: with two at once,
        // the third arrival at rung 20 could be either of the last two started, and ASHA rightly promotes the best of
        // the three it has seen.
        var spec = Spec("learningRate: [0.00001, 0.01, 0.00003, 0.0001]", maxConcurrent: 1, steps: 200,
            extra: "earlyStopping: { rule: asha, gracePeriod: 20, reductionFactor: 3 }");
        var sweep = cluster.Client.GetGrain<ISweepGrain>("asha");
        await sweep.SubmitAsync(spec);
        var status = await WaitAsync(sweep, TimeSpan.FromSeconds(120));

        var best = status.Trials.Single(t => t.State == TrialState.Completed);
        Assert.Equal("0.01", best.Factors[0].Value);
        Assert.Equal(200, best.Step);
        Assert.All(status.Trials.Where(t => t != best), t =>
        {
            Assert.Equal(TrialState.StoppedEarly, t.State);
            Assert.Equal(20, t.Step);
            Assert.StartsWith("ASHA: Loss", t.Reason);
        });
        Assert.Equal(200 + 3 * 20, status.StepsRun);
        // A promoted trial carried on from its rung's checkpoint: one run per stretch, no step twice.
        var metrics = await cluster.Trial(best.TrialId).GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
    }

    [Fact]
    public async Task Replaying_a_full_grid_through_asha_reproduces_the_recorded_asha_run()
    {
        // The ASHA test's sweep, run once with its rule and once to the end; trials one at a time, as replay is exact then.
        const string space = "learningRate: [0.00001, 0.01, 0.00003, 0.0001]";
        const string asha = "earlyStopping: { rule: asha, gracePeriod: 20, reductionFactor: 3 }";
        var pruned = await RunAsync("replay-asha", Spec(space, maxConcurrent: 1, steps: 200, extra: asha));
        var full = await RunAsync("replay-grid", Spec(space, maxConcurrent: 1, steps: 200));
        Assert.Equal(800, full.StepsRun);

        var rule = pruned.Spec.EarlyStopping;
        var replay = StoppingReplay.Run(full, await CurvesAsync(full), rule);
        Assert.Equal(pruned.StepsRun, replay.ReplayedSteps);
        Assert.Equal(pruned.Trials.Select(t => (t.Number, t.Step, t.State)), replay.Trials.Select(t => (t.Number, t.ReplayedSteps, t.Replayed)));
        Assert.Equal(1 - 260.0 / 800, replay.Saved, 9);
        Assert.True(replay.WinnerKept);
        Assert.Equal(SweepReport.Leaderboard(full, 1)[0].Number, replay.Winner);
        Assert.StartsWith("ASHA (grace 20, eta 3) would have run 260 of the 800 steps", replay.Verdict);

        // The ASHA run's own curves replayed through its own rule: the steps it recorded, though no trial ran to 200 but one.
        var again = StoppingReplay.Run(pruned, await CurvesAsync(pruned), rule);
        Assert.Equal(pruned.StepsRun, again.ReplayedSteps);
        // A rule that would run its stopped trials further than they went is refused, naming a trial.
        var error = Assert.Throws<ArgumentException>(() => StoppingReplay.Run(pruned, new Dictionary<int, IReadOnlyList<EvaluationMetrics>>(), rule with { GracePeriod = 40 }));
        Assert.Contains("the rule would run it further", error.Message);
    }

    async Task<SweepStatus> RunAsync(string id, SweepSpec spec)
    {
        var sweep = cluster.Client.GetGrain<ISweepGrain>(id);
        await sweep.SubmitAsync(spec);
        return await WaitAsync(sweep, TimeSpan.FromSeconds(120));
    }

    async Task<Dictionary<int, IReadOnlyList<EvaluationMetrics>>> CurvesAsync(SweepStatus status)
    {
        var curves = new Dictionary<int, IReadOnlyList<EvaluationMetrics>>();
        foreach (var t in status.Trials) curves[t.Number] = await cluster.Trial(t.TrialId).GetEvaluationsAsync(-1);
        return curves;
    }

    [Fact]
    public async Task The_median_rule_stops_a_trial_worse_than_the_others_at_the_same_step()
    {
        // One at a time: the two good learning rates finish first, then the hopeless one meets their median.
        var spec = Spec("learningRate: [0.01, 0.003, 0.00001]", maxConcurrent: 1, steps: 200,
            extra: "earlyStopping: { rule: median, gracePeriod: 40, minTrials: 2 }");
        var sweep = cluster.Client.GetGrain<ISweepGrain>("median");
        await sweep.SubmitAsync(spec);
        var status = await WaitAsync(sweep, TimeSpan.FromSeconds(120));

        Assert.Equal([TrialState.Completed, TrialState.Completed, TrialState.StoppedEarly], status.Trials.Select(t => t.State));
        var stopped = status.Trials[2];
        Assert.StartsWith("median rule: best Loss so far is worse than the median of the other trials at step 40", stopped.Reason);
        Assert.True(stopped.Step < 200, $"stopped at {stopped.Step}");
    }

    [Fact]
    public async Task Submitting_the_same_id_returns_the_sweep_and_another_spec_is_refused()
    {
        var spec = Spec("layers: [1]", steps: 20);
        var sweep = cluster.Client.GetGrain<ISweepGrain>("twice");
        var first = await sweep.SubmitAsync(spec);
        var again = await sweep.SubmitAsync(spec);
        Assert.Equal(first.CreatedAt, again.CreatedAt);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => sweep.SubmitAsync(spec with { Repeats = 2 }));
        Assert.Contains("already exists with another spec", e.Message);
        Assert.Contains("twice", await cluster.Client.GetGrain<ISweepIndexGrain>(0).ListAsync());
        await WaitAsync(sweep, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Cancelling_a_sweep_stops_running_trials_and_never_starts_queued_ones()
    {
        var sweep = cluster.Client.GetGrain<ISweepGrain>("cancel-sweep");
        await sweep.SubmitAsync(Spec("layers: [1, 2, 3]", maxConcurrent: 1, steps: 3000));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await sweep.GetStatusAsync())!.Trials[0].Step < 10 && DateTime.UtcNow < deadline) await Task.Delay(100);
        var status = (await sweep.CancelAsync())!;
        Assert.Equal(SweepState.Cancelled, status.State);
        Assert.Equal(TrialState.Cancelled, status.Trials[0].State);
        Assert.True(status.Trials[0].Step >= 10);
        Assert.All(status.Trials.Skip(1), t => Assert.Equal(TrialState.Cancelled, t.State));
        Assert.All(status.Trials.Skip(1), t => Assert.Null(t.StartedAt));
    }
}

// A restart of the whole cluster in the middle of a sweep: it carries on, no trial runs twice, none is lost.
[Trait("Category", "Integration")]
public class SweepRestartTests
{
    [Fact]
    public async Task A_sweep_carries_on_after_every_silo_restarts()
    {
        var spec = SweepTests.Spec("layers: [1, 2, 3, 4]", maxConcurrent: 1, steps: 300);
        var first = await TrainingCluster.StartAsync(1);
        var directory = first.DataDirectory;
        SweepStatus before;
        try
        {
            var sweep = first.Client.GetGrain<ISweepGrain>("restart");
            await sweep.SubmitAsync(spec);
            var deadline = DateTime.UtcNow.AddSeconds(120);
            // Wait until the first trial is done and the second is past a checkpoint.
            while (!((before = (await sweep.GetStatusAsync())!).Trials[0].IsFinished && before.Trials[1].Step >= 40) && DateTime.UtcNow < deadline)
                await Task.Delay(50);
            Assert.Equal(TrialState.Completed, before.Trials[0].State);
        }
        finally
        {
            await first.StopKeepingDataAsync();
        }

        await using var second = await TrainingCluster.StartAsync(1, directory);
        // Nothing but the silo's start wakes the sweep: the status call below only reads it.
        var after = await SweepTests.WaitAsync(second.Client.GetGrain<ISweepGrain>("restart"), TimeSpan.FromSeconds(180));
        Assert.Equal(SweepState.Completed, after.State);
        Assert.All(after.Trials, t => Assert.Equal(TrialState.Completed, t.State));
        // Trial 1 finished before the restart and was not run again; trial 2 resumed from a checkpoint.
        Assert.Equal(before.Trials[0].EndedAt, after.Trials[0].EndedAt);
        Assert.Equal(before.Trials[0].StartedAt, after.Trials[0].StartedAt);
        Assert.Equal(before.Trials[1].StartedAt, after.Trials[1].StartedAt);
        var resumed = await second.Trial(after.Trials[1].TrialId).GetStatusAsync();
        Assert.True(resumed.Recoveries >= 1);
        var metrics = await second.Trial(after.Trials[1].TrialId).GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
        Assert.All(after.Trials, t => Assert.Equal(300, t.Step));
    }
}
