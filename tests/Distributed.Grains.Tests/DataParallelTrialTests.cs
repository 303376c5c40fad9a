using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Training;
using Distributed.Models.Data;
using Distributed.Models.Training;
using Distributed.Options;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Tests;

// Synchronous data parallelism through real grains: N workers, one coordinator, the same replicas everywhere.
[Collection(SharedCluster.Name)]
[Trait("Category", "Integration")]
public class DataParallelTrialTests(SharedClusterFixture fixture)
{
    readonly TrainingCluster cluster = fixture.Cluster;

    // The default sends these small gradients whole in the replies. With a 1 KiB threshold they go between the two
    // silos in bulk: over the direct link, or (links off) in Orleans chunks.
    [Theory]
    [InlineData(2, 1 << 20, ClipMode.Norm, true)]
    [InlineData(4, 1 << 20, ClipMode.Norm, true)]
    [InlineData(2, 1024, ClipMode.Norm, true)]
    [InlineData(4, 1024, ClipMode.Value, true)]
    [InlineData(2, 1024, ClipMode.Norm, false)]
    [InlineData(4, 1024, ClipMode.Value, false)]
    public async Task Workers_with_global_clipping_end_equal_to_one_worker_on_the_union_batch(int workers, int chunkBytes, ClipMode clip, bool links)
    {
        var id = $"equivalence-{workers}-{chunkBytes}-{clip}-{links}";
        var training = Specs.Tiny().Training with { Clip = clip, ClipThreshold = clip == ClipMode.Value ? 0.05 : 1.0 };
        var single = Specs.Tiny(workers: 1, batch: 8 * workers) with
        {
            Training = training with { BatchSize = 8 * workers },
            Parallel = Specs.Tiny().Parallel with { ClipScope = ClipScope.Global },
        };
        var parallel = Specs.Tiny(workers: workers, batch: 8) with
        {
            Training = training,
            Parallel = Specs.Tiny(workers).Parallel with { ClipScope = ClipScope.Global, ExchangeChunkBytes = chunkBytes, DirectLinks = links, Allreduce = Allreduce.Star },
        };

        await cluster.Trial($"{id}-single").StartAsync(single);
        await cluster.Trial($"{id}-parallel").StartAsync(parallel);
        var one = await cluster.WaitFinishedAsync($"{id}-single");
        var many = await cluster.WaitFinishedAsync($"{id}-parallel");

        Assert.Equal(TrialState.Completed, one.State);
        Assert.Equal(TrialState.Completed, many.State);
        Assert.Equal("star", many.Exchange);
        var expected = await cluster.FinalParametersAsync(one);
        var actual = await cluster.FinalParametersAsync(many);
        Assert.Equal(expected.Length, actual.Length);
        double worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5, $"after 20 steps the largest parameter difference is {worst}");
        // And the run really trained: 20 steps moved the weights.
        using var initial = new Trainer(single.Model, single.Training, single.Data.Load().Vocabularies, single.Schedule.Seed);
        Assert.True(initial.Parameters.Values.ToArray().Zip(expected, (a, b) => Math.Abs(a - b)).Max() > 1e-3);
    }

    // A gradient of several link pieces, each tagged and checked on its own while others travel, both ways.
    [Theory]
    [InlineData(2, ClipMode.Norm)]
    [InlineData(4, ClipMode.Value)]
    public async Task A_gradient_of_several_link_pieces_equals_one_worker_on_the_union_batch(int workers, ClipMode clip)
    {
        var run = await cluster.AgainstOneWorkerAsync($"pieces-{workers}-{clip}", workers, hidden: 128, clip,
            Specs.Tiny(workers).Parallel with { ClipScope = ClipScope.Global, ExchangeChunkBytes = 1024, DirectLinks = true, Allreduce = Allreduce.Star });

        Assert.Equal("star", run.Many.Exchange);
        Assert.True(GradientLink.Pieces(run.Expected.Length * sizeof(float)) >= 3, $"{run.Expected.Length} parameters make fewer than 3 link pieces");
        double worst = run.Expected.Zip(run.Actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5, $"after 20 steps the largest parameter difference is {worst}");
    }

    // The ring: the workers average among themselves over direct links, reduce-scatter then all-gather, with no
    // coordinator in the bytes' way. Hidden 128 makes slices of one link piece or more; 16 makes slices of a few KB.
    // Hierarchical: the workers of each of the two silos sum in its memory first (groups of 2 and 1, or 2 and 2),
    // and the silos' leaders ring.
    [Theory]
    [InlineData(3, 16, ClipMode.Norm, Allreduce.Ring)]
    [InlineData(4, 16, ClipMode.Value, Allreduce.Ring)]
    [InlineData(3, 128, ClipMode.Value, Allreduce.Ring)]
    [InlineData(4, 128, ClipMode.Norm, Allreduce.Ring)]
    [InlineData(3, 16, ClipMode.Value, Allreduce.Hierarchical)]
    [InlineData(4, 128, ClipMode.Norm, Allreduce.Hierarchical)]
    [InlineData(3, 16, ClipMode.Norm, Allreduce.HalvingDoubling)]
    [InlineData(4, 128, ClipMode.Value, Allreduce.HalvingDoubling)]
    public async Task Workers_averaging_around_a_ring_with_global_clipping_equal_one_worker_on_the_union_batch(int workers, int hidden, ClipMode clip, Allreduce allreduce)
    {
        var id = $"ring-global-{workers}-{hidden}-{clip}-{allreduce}";
        using var overlapped = new OverlappedSteps($"{id}-parallel");
        var run = await cluster.AgainstOneWorkerAsync(id, workers, hidden, clip, Specs.Tiny(workers).Parallel with { ClipScope = ClipScope.Global, Allreduce = allreduce });

        Assert.Equal(Topology(allreduce), run.Many.Exchange);
        Assert.Null(run.One.Exchange);
        // One worker per silo and global clipping: the decoder's bucket went out while the encoder's backward ran.
        if (allreduce == Allreduce.Hierarchical) Assert.Equal(0, overlapped.Count);
        else Assert.True(overlapped.Count >= 20 * workers, $"{overlapped.Count} steps overlapped over {workers} workers");
        double worst = run.Expected.Zip(run.Actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5, $"after 20 steps the largest parameter difference is {worst}");
        // The global norm is the mean's, put together from every worker's slice: the one worker's to rounding.
        var oneSteps = (await cluster.Trial($"{id}-single").GetMetricsAsync(-1)).Steps;
        var ringSteps = (await cluster.Trial($"{id}-parallel").GetMetricsAsync(-1)).Steps;
        Assert.All(oneSteps.Zip(ringSteps), p => Assert.True(Math.Abs(p.First.GradientNorm - p.Second.GradientNorm) <= 1e-4 * Math.Max(1, p.First.GradientNorm),
            $"step {p.First.Step}: norm {p.First.GradientNorm} alone, {p.Second.GradientNorm} around the ring"));
    }

    /// <summary>Counts the steps a trial's workers began their allreduce during the backward pass, from the silo's own metric.</summary>
    sealed class OverlappedSteps : IDisposable
    {
        readonly System.Diagnostics.Metrics.MeterListener listener = new();
        long count;

        public OverlappedSteps(string trialId)
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "distributed.exchange.overlapped.steps") l.EnableMeasurementEvents(instrument);
            };
            listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                    if (tag is { Key: "trial", Value: string trial } && trial == trialId) Interlocked.Add(ref count, value);
            });
            listener.Start();
        }

        public long Count => Interlocked.Read(ref count);

        public void Dispose() => listener.Dispose();
    }

    /// <summary>What a trial's status calls the exchange asked for, with 3 or 4 workers over the cluster's two silos.</summary>
    static string Topology(Allreduce allreduce) => allreduce switch
    {
        Allreduce.Ring => "ring",
        Allreduce.Hierarchical => "hierarchical",
        Allreduce.HalvingDoubling => "halving-doubling",
        _ => throw new ArgumentOutOfRangeException(nameof(allreduce)),
    };

    // Auto: around a ring when the workers span the cluster's two silos and their gradients are past the chunk size;
    // small gradients ride in the star's replies.
    [Theory]
    [InlineData(1024, "ring")]
    [InlineData(1 << 20, "star")]
    public async Task Auto_takes_the_ring_for_large_gradients_across_silos(int chunkBytes, string expected)
    {
        var id = $"auto-{chunkBytes}";
        var spec = Specs.Tiny(workers: 2, steps: 3) with { Parallel = Specs.Tiny(2).Parallel with { ExchangeChunkBytes = chunkBytes } };
        await cluster.Trial(id).StartAsync(spec);
        var status = await cluster.WaitFinishedAsync(id);
        Assert.Equal(TrialState.Completed, status.State);
        Assert.Equal(expected, status.Exchange);
    }

    // Per-worker clipping has no one-worker twin: the ring must apply what the star applies, the mean of the clipped
    // gradients. Clamping by value clips the decoder's bucket before it leaves, so the allreduce overlaps the encoder's
    // backward; so does clipping by norm in a ring of two, each worker scaling the other's raw half once both know
    // their norms. A longer ring, or halving and doubling, under norm clipping cannot, and does not try.
    [Theory]
    [InlineData(2, ClipMode.Norm, Allreduce.Ring, true)]
    [InlineData(3, ClipMode.Norm, Allreduce.Ring, false)]
    [InlineData(4, ClipMode.Value, Allreduce.Ring, true)]
    [InlineData(4, ClipMode.Norm, Allreduce.Hierarchical, false)]
    [InlineData(4, ClipMode.Norm, Allreduce.HalvingDoubling, false)]
    [InlineData(3, ClipMode.Value, Allreduce.HalvingDoubling, true)]
    public async Task With_per_worker_clipping_the_ring_applies_what_the_star_does(int workers, ClipMode clip, Allreduce allreduce, bool overlaps)
    {
        var id = $"ring-per-worker-{workers}-{clip}-{allreduce}";
        using var overlapped = new OverlappedSteps($"{id}-ring");
        var spec = Specs.Tiny(workers: workers, batch: 8) with
        {
            Training = Specs.Tiny().Training with { Clip = clip, ClipThreshold = clip == ClipMode.Value ? 0.01 : 0.05 },
        };
        await cluster.Trial($"{id}-star").StartAsync(spec with { Parallel = spec.Parallel with { Allreduce = Allreduce.Star } });
        await cluster.Trial($"{id}-ring").StartAsync(spec with { Parallel = spec.Parallel with { Allreduce = allreduce } });
        var star = await cluster.WaitFinishedAsync($"{id}-star");
        var ring = await cluster.WaitFinishedAsync($"{id}-ring");

        Assert.Equal(("star", Topology(allreduce)), (star.Exchange, ring.Exchange));
        Assert.Equal(TrialState.Completed, ring.State);
        if (overlaps) Assert.True(overlapped.Count >= 20 * workers, $"{overlapped.Count} steps overlapped over {workers} workers");
        else Assert.Equal(0, overlapped.Count);
        var expected = await cluster.FinalParametersAsync(star);
        var actual = await cluster.FinalParametersAsync(ring);
        double worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5, $"after 20 steps the largest parameter difference is {worst}");
        var starSteps = (await cluster.Trial($"{id}-star").GetMetricsAsync(-1)).Steps;
        var ringSteps = (await cluster.Trial($"{id}-ring").GetMetricsAsync(-1)).Steps;
        Assert.All(starSteps.Zip(ringSteps), p => Assert.True(Math.Abs(p.First.Loss - p.Second.Loss) <= 1e-5,
            $"step {p.First.Step}: loss {p.First.Loss} through the star, {p.Second.Loss} around the ring"));
    }

    // A stalled worker fails the exchange at its timeout: a ring's neighbours, or a hierarchical group's leader or
    // members (rank 2 leads nothing with 4 workers over 2 silos; rank 1 leads the second silo's group). A ring of two
    // under per-worker clipping by norm overlaps the backward pass: its bucket thread gives up at the timeout too.
    [Theory]
    [InlineData(2, 1, Allreduce.Ring)]
    [InlineData(3, 1, Allreduce.Ring)]
    [InlineData(4, 2, Allreduce.Hierarchical)]
    [InlineData(4, 1, Allreduce.Hierarchical)]
    [InlineData(4, 2, Allreduce.HalvingDoubling)]
    public async Task A_ring_worker_that_stalls_breaks_the_ring_and_the_trial_resumes_from_its_checkpoint(int workers, int stalled, Allreduce allreduce)
    {
        var id = $"ring-stall-{workers}-{stalled}-{allreduce}";
        var spec = Specs.Tiny(workers: workers, steps: 200) with
        {
            Parallel = Specs.Tiny(workers).Parallel with { Allreduce = allreduce, ExchangeTimeout = TimeSpan.FromSeconds(1), MaxRecoveries = 3 },
        };
        await cluster.Trial(id).StartAsync(spec);
        await cluster.WaitAsync(id, s => s.Step >= 12, TimeSpan.FromSeconds(60));
        var (replica, _) = cluster.FindReplica(id, stalled)!.Value;
        _ = replica.WithTrainerAsync(_ => Thread.Sleep(3000));

        var status = await cluster.WaitFinishedAsync(id, 90);
        Assert.Equal(TrialState.Completed, status.State);
        Assert.Equal(Topology(allreduce), status.Exchange);
        Assert.True(status.Recoveries >= 1);
        var metrics = await cluster.Trial(id).GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
    }

    [Fact]
    public async Task Per_worker_clipping_applies_the_mean_of_the_individually_clipped_gradients()
    {
        // Plain SGD with rate 1 makes the applied gradient readable: it is initial minus final weights.
        var spec = Specs.Tiny(workers: 2, batch: 8, steps: 1) with
        {
            Training = Specs.Tiny().Training with { Optimizer = OptimizerKind.Sgd, Momentum = 0, LearningRate = 1, ClipThreshold = 1e-3 },
        };
        await cluster.Trial("per-worker-clip").StartAsync(spec);
        var status = await cluster.WaitFinishedAsync("per-worker-clip");
        Assert.Equal(TrialState.Completed, status.State);
        var final = await cluster.FinalParametersAsync(status);

        var data = spec.Data.Load();
        var clipped = new List<float[]>();
        float[] initial = [];
        for (int rank = 0; rank < 2; rank++)
        {
            using var replica = new Trainer(spec.Model, spec.Training, data.Vocabularies, spec.Schedule.Seed, data.Train, rank, 2);
            initial = replica.Parameters.Values.ToArray();
            using (var batch = TrainingBatch.From(replica.Batches!.Next())) replica.ComputeGradient(batch);
            double norm = replica.ClipGradient();
            Assert.True(norm > 1e-2, "each worker's gradient must be far above the threshold for the test to mean anything");
            clipped.Add(replica.Parameters.Gradients.ToArray());
        }
        for (int i = 0; i < final.Length; i++)
        {
            double applied = initial[i] - final[i];
            double expected = (clipped[0][i] + clipped[1][i]) / 2;
            Assert.True(Math.Abs(applied - expected) < 1e-7, $"parameter {i}: applied {applied}, mean of clipped {expected}");
        }
        Assert.True(GradientClipping.L2Norm(initial.Zip(final, (a, b) => a - b).ToArray()) <= 1e-3 + 1e-7);
    }

    [Fact]
    public async Task A_trial_learns_and_its_metrics_are_readable_while_it_runs()
    {
        var spec = Specs.Tiny(workers: 2, batch: 16, steps: 150) with
        {
            Schedule = Specs.Tiny().Schedule with { Steps = 150, EvaluateEvery = 50, CheckpointEvery = 50 },
        };
        var trial = cluster.Trial("learns");
        await trial.StartAsync(spec);
        var running = await cluster.WaitAsync("learns", s => s.Step >= 20 || s.IsFinished, TimeSpan.FromSeconds(60));
        var early = await trial.GetMetricsAsync(-1);
        Assert.Equal(TrialState.Running, running.State);
        Assert.NotEmpty(early.Steps);

        // The two workers sit on different silos, and their TorchSharp work runs on each replica's own thread.
        var (replica0, firstSilo) = cluster.FindReplica("learns", 0)!.Value;
        var (_, secondSilo) = cluster.FindReplica("learns", 1)!.Value;
        Assert.NotEqual(firstSilo, secondSilo);
        string? thread = null;
        bool pooled = true;
        await replica0.WithTrainerAsync(_ => (thread, pooled) = (Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread));
        Assert.Equal("replica learns/0", thread);
        Assert.False(pooled);

        var status = await cluster.WaitFinishedAsync("learns");
        Assert.Equal(TrialState.Completed, status.State);
        Assert.Equal(150, status.Step);
        var metrics = await trial.GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, 150).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
        Assert.All(metrics.Steps, s => Assert.True(s.SamplesPerSecond > 0 && s.LearningRate > 0 && s.GradientNorm > 0));
        Assert.Equal([50L, 100L, 150L], metrics.Evaluations.Select(e => e.Step));
        double first = metrics.Steps.Take(10).Average(s => s.Loss), last = metrics.Steps.TakeLast(10).Average(s => s.Loss);
        Assert.True(last < first * 0.8, $"loss went from {first:F3} to {last:F3}");
        Assert.True(metrics.Evaluations[^1].TokenAccuracy > metrics.Evaluations[0].TokenAccuracy - 0.05);

        // The final checkpoint decodes an input, with attention rows over the source that sum to one.
        var prediction = await trial.PredictAsync("3141", 1);
        Assert.Equal(150, prediction.Step);
        Assert.Equal(["3", "1", "4", "1"], prediction.SourceTokens);
        Assert.Equal(prediction.OutputTokens.Count, prediction.Attention.Count);
        Assert.All(prediction.Attention, row =>
        {
            Assert.Equal(4, row.Length);
            Assert.Equal(1.0, row.Sum(), 4);
        });
        Assert.NotEmpty((await trial.PredictAsync("3141", 3)).OutputTokens);
        var empty = await Assert.ThrowsAnyAsync<ArgumentException>(() => trial.PredictAsync("  ", 1));
        Assert.Contains("input: must not be empty", empty.Message);
    }

    [Fact]
    public async Task A_completed_trial_tests_its_best_validation_checkpoint_on_the_test_split()
    {
        const string id = "tested";
        var spec = Specs.Tiny(batch: 16, steps: 120) with
        {
            Schedule = Specs.Tiny().Schedule with
            {
                Steps = 120, EvaluateEvery = 20, CheckpointEvery = 50, BeamWidth = 2,
                SelectBy = new Objective { Metric = ObjectiveMetric.TokenAccuracy },
            },
        };
        await cluster.Trial(id).StartAsync(spec);
        var status = await cluster.WaitFinishedAsync(id);
        Assert.Equal(TrialState.Completed, status.State);

        // The best is the first evaluation with the highest token accuracy, kept apart from the rotating checkpoints.
        var evaluations = (await cluster.Trial(id).GetMetricsAsync(-1)).Evaluations;
        var best = evaluations.First(e => e.TokenAccuracy == evaluations.Max(v => v.TokenAccuracy));
        Assert.Equal(best.Step, status.Best!.Step);
        Assert.Equal(best.TokenAccuracy, status.Best.Value);
        Assert.Equal([status.Best.Path], await cluster.Store.ListAsync(ArtifactPaths.Best(id)));

        // Its test figures, greedy and with the beam, are that checkpoint's on the whole test split.
        var test = status.Test!;
        var data = spec.Data.Load();
        Assert.Equal(best.Step, test.CheckpointStep);
        Assert.Equal(2, test.BeamWidth);
        using var trainer = Trainer.Load(new MemoryStream((await cluster.Store.ReadAsync(status.Best.Path))!));
        foreach (var (reported, beam) in new[] { (test.Greedy, 1), (test.Beam!, 2) })
        {
            var expected = trainer.Evaluate(data.Test, beam);
            Assert.Equal(data.Test.Count, reported.Examples);
            Assert.Equal(expected.ExactMatch, reported.ExactMatch, 6);
            Assert.Equal(expected.TokenAccuracy, reported.TokenAccuracy, 6);
            Assert.Equal(expected.Loss, reported.Loss, 4);
        }
    }

    [Fact]
    public async Task Starting_again_with_the_same_spec_returns_the_trial_and_another_spec_is_refused()
    {
        var spec = Specs.Tiny(steps: 5);
        var first = await cluster.Trial("idempotent").StartAsync(spec);
        var again = await cluster.Trial("idempotent").StartAsync(spec);
        Assert.Equal(first.StartedAt, again.StartedAt);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => cluster.Trial("idempotent").StartAsync(spec with { Schedule = spec.Schedule with { Steps = 6 } }));
        Assert.Contains("another spec", e.Message);
        Assert.Equal(TrialState.Completed, (await cluster.WaitFinishedAsync("idempotent")).State);
    }

    [Fact]
    public async Task Cancelling_a_running_trial_keeps_its_metrics_and_frees_its_replicas()
    {
        var spec = Specs.Tiny(workers: 2, steps: 5000);
        var trial = cluster.Trial("cancel");
        await trial.StartAsync(spec);
        await cluster.WaitAsync("cancel", s => s.Step >= 20, TimeSpan.FromSeconds(60));
        var status = await trial.CancelAsync();
        Assert.Equal(TrialState.Cancelled, status.State);
        Assert.True(status.Step >= 20);
        Assert.NotEmpty((await trial.GetMetricsAsync(-1)).Steps);
        Assert.Null(cluster.FindReplica("cancel", 0));
        Assert.Null(cluster.FindReplica("cancel", 1));
        await Task.Delay(500);
        Assert.Equal(TrialState.Cancelled, (await trial.GetStatusAsync()).State);
    }

    // One worker runs stretches of steps per call, two exchange every step: both stop at the first non-finite step.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_diverging_trial_ends_diverged_at_that_step_and_leaves_the_others_alone(int workers)
    {
        var healthy = Specs.Tiny(workers, steps: 40);
        var exploding = Specs.Tiny(workers, steps: 500) with
        {
            Training = Specs.Tiny().Training with { Optimizer = OptimizerKind.Sgd, Momentum = 0, LearningRate = 1e30, Clip = ClipMode.None },
        };
        await cluster.Trial($"healthy-{workers}").StartAsync(healthy);
        await cluster.Trial($"exploding-{workers}").StartAsync(exploding);

        var diverged = await cluster.WaitFinishedAsync($"exploding-{workers}", 60);
        Assert.Equal(TrialState.Diverged, diverged.State);
        Assert.True(diverged.Step < 10, $"it should stop at the first non-finite step, not at {diverged.Step}");
        // The step named is the one after the last recorded, and every step before it was recorded.
        Assert.Contains($"at step {diverged.Step + 1}", diverged.Reason);
        var metrics = await cluster.Trial($"exploding-{workers}").GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, (int)diverged.Step).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
        Assert.All(metrics.Steps, s => Assert.True(double.IsFinite(s.Loss)));
        Assert.Equal(TrialState.Completed, (await cluster.WaitFinishedAsync($"healthy-{workers}")).State);
    }

    [Fact]
    public async Task Replicas_that_drift_apart_stop_the_trial_with_the_reason()
    {
        var spec = Specs.Tiny(workers: 2, steps: 400);
        await cluster.Trial("drift").StartAsync(spec);
        await cluster.WaitAsync("drift", s => s.Step >= 3, TimeSpan.FromSeconds(60));
        var (replica, _) = cluster.FindReplica("drift", 1) ?? throw new InvalidOperationException("worker 1 has no replica");
        await replica.WithTrainerAsync(t => t.Parameters.Values[0] += 0.5f);

        var status = await cluster.WaitFinishedAsync("drift", 60);
        Assert.Equal(TrialState.Failed, status.State);
        Assert.Contains("diverged from each other", status.Reason);
        Assert.Contains("worker 1", status.Reason);
    }

    [Fact]
    public async Task A_stalled_worker_times_out_and_the_trial_resumes_from_its_checkpoint()
    {
        // Long enough that the stall always lands mid-run; worker 1 never evaluates or checkpoints, so it stalls an exchange.
        var spec = Specs.Tiny(workers: 2, steps: 300) with
        {
            Parallel = Specs.Tiny(2).Parallel with { ExchangeTimeout = TimeSpan.FromSeconds(1), MaxRecoveries = 3 },
        };
        await cluster.Trial("stall").StartAsync(spec);
        await cluster.WaitAsync("stall", s => s.Step >= 12, TimeSpan.FromSeconds(60));
        var (replica, _) = cluster.FindReplica("stall", 1)!.Value;
        _ = replica.WithTrainerAsync(_ => Thread.Sleep(3000));

        var status = await cluster.WaitFinishedAsync("stall", 90);
        Assert.Equal(TrialState.Completed, status.State);
        Assert.True(status.Recoveries >= 1);
        var metrics = await cluster.Trial("stall").GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
    }

    [Fact]
    public async Task A_worker_that_never_answers_fails_the_trial_with_the_timeout_named()
    {
        var spec = Specs.Tiny(workers: 2) with
        {
            Parallel = Specs.Tiny(2).Parallel with { ExchangeTimeout = TimeSpan.FromSeconds(1), LoadTimeout = TimeSpan.FromSeconds(1), MaxRecoveries = 0 },
            // No evaluation or checkpoint in range: the next call the hung worker gets is always a step's exchange.
            Schedule = Specs.Tiny().Schedule with { Steps = 100_000, EvaluateEvery = 100_000, CheckpointEvery = 100_000 },
        };
        await cluster.Trial("hang").StartAsync(spec);
        await cluster.WaitAsync("hang", s => s.Step >= 3, TimeSpan.FromSeconds(60));
        var (replica, _) = cluster.FindReplica("hang", 0)!.Value;
        _ = replica.WithTrainerAsync(_ => Thread.Sleep(5000));

        var status = await cluster.WaitFinishedAsync("hang", 30);
        Assert.Equal(TrialState.Failed, status.State);
        Assert.Contains("worker 0 did not exchange gradients", status.Reason);
        Assert.Contains("within 1 s", status.Reason);
    }
}
