using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Hosting;
using Distributed.Grains.Training;
using Distributed.Models;
using Distributed.Models.Data;
using Distributed.Models.Training;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Distributed.Options;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Tests;

/// <summary>A real in-process Orleans cluster with the training grains, sharing one temporary data directory.</summary>
public sealed class TrainingCluster : IAsyncDisposable
{
    TrainingCluster(InProcessTestCluster cluster, string directory)
    {
        Cluster = cluster;
        DataDirectory = directory;
    }

    public string DataDirectory { get; }

    public const int SegmentSteps = 10;

    public InProcessTestCluster Cluster { get; }
    public IClusterClient Client => Cluster.Client;

    public static Task<TrainingCluster> StartAsync(short silos, string? dataDirectory = null) => StartAsync(silos, _ => 0, dataDirectory);

    /// <summary>A cluster whose silo <c>i</c> has the memory budget <paramref name="memoryBudget"/>(i) (0: the default).</summary>
    public static async Task<TrainingCluster> StartAsync(short silos, Func<int, long> memoryBudget, string? dataDirectory = null)
    {
        var directory = dataDirectory ?? Path.Combine(Path.GetTempPath(), $"distributed-tests-{Guid.NewGuid():N}");
        var builder = new InProcessTestClusterBuilder(silos);
        // Segments of 10 steps: every checkpoint of the tiny specs seals one, so every test also runs over sealed metrics.
        builder.ConfigureSilo((options, silo) => silo.AddDistributedTraining(new TrainingSiloOptions
        {
            DataDir = directory, MetricSegmentSteps = SegmentSteps, MemoryBudget = memoryBudget(SiloIndex(options.SiloName)),
        }));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new TrainingCluster(cluster, directory);
    }

    public ITrialGrain Trial(string id) => Client.GetGrain<ITrialGrain>(id);

    /// <summary>
    /// One worker on the union batch ("{id}-single") and <paramref name="workers"/> of 8 examples each ("{id}-parallel"),
    /// global clipping, SGD with momentum so that a difference in the last bits is not amplified into noise: both
    /// completed, with their final parameters, which 20 steps moved.
    /// </summary>
    public async Task<(TrialStatus One, TrialStatus Many, float[] Expected, float[] Actual)> AgainstOneWorkerAsync(string id, int workers, int hidden,
        ClipMode clip, DataParallelOptions parallel)
    {
        var model = Specs.Tiny().Model with { HiddenSize = hidden };
        var training = Specs.Tiny().Training with
        {
            Optimizer = OptimizerKind.Sgd, Momentum = 0.9, LearningRate = 0.1, Clip = clip, ClipThreshold = clip == ClipMode.Value ? 0.01 : 0.5,
        };
        var single = Specs.Tiny(workers: 1, batch: 8 * workers) with
        {
            Model = model,
            Training = training with { BatchSize = 8 * workers },
            Parallel = Specs.Tiny().Parallel with { ClipScope = ClipScope.Global },
        };
        await Trial($"{id}-single").StartAsync(single);
        await Trial($"{id}-parallel").StartAsync(Specs.Tiny(workers: workers, batch: 8) with { Model = model, Training = training, Parallel = parallel });
        var one = await WaitFinishedAsync($"{id}-single");
        var many = await WaitFinishedAsync($"{id}-parallel");
        Assert.Equal(TrialState.Completed, one.State);
        Assert.Equal(TrialState.Completed, many.State);
        var expected = await FinalParametersAsync(one);
        var actual = await FinalParametersAsync(many);
        Assert.Equal(expected.Length, actual.Length);
        using var initial = new Trainer(single.Model, single.Training, single.Data.Load().Vocabularies, single.Schedule.Seed);
        Assert.True(initial.Parameters.Values.ToArray().Zip(expected, (a, b) => Math.Abs(a - b)).Max() > 1e-3);
        return (one, many, expected, actual);
    }

    // The test host names its silos Primary, Secondary_1, Secondary_2, ...
    static int SiloIndex(string name) => name.LastIndexOf('_') is var i && i >= 0 && int.TryParse(name[(i + 1)..], out var n) ? n : 0;

    public IArtifactStore Store => Cluster.Silos[0].ServiceProvider.GetRequiredService<IArtifactStore>();

    /// <summary>The replica of worker <paramref name="rank"/> of a trial and the silo holding it.</summary>
    public (Replica Replica, InProcessSiloHandle Silo)? FindReplica(string trialId, int rank)
    {
        foreach (var silo in Cluster.Silos.Where(s => s.IsActive))
            if (silo.ServiceProvider.GetRequiredService<ReplicaHost>().Find(WorkerGrain.KeyOf(trialId, rank)) is { } replica)
                return (replica, silo);
        return null;
    }

    public async Task<TrialStatus> WaitAsync(string trialId, Func<TrialStatus, bool> until, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var trial = Trial(trialId);
        while (true)
        {
            var status = await trial.GetStatusAsync();
            if (until(status)) return status;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"trial {trialId} is {status.State} at step {status.Step}/{status.Steps} after {timeout}: {status.Reason}");
            await Task.Delay(100);
        }
    }

    public Task<TrialStatus> WaitFinishedAsync(string trialId, int seconds = 120) => WaitAsync(trialId, s => s.IsFinished, TimeSpan.FromSeconds(seconds));

    /// <summary>The weights a finished trial left in its final checkpoint.</summary>
    public async Task<float[]> FinalParametersAsync(TrialStatus status)
    {
        Assert.NotNull(status.CheckpointPath);
        var bytes = await Store.ReadAsync(status.CheckpointPath!);
        Assert.NotNull(bytes);
        using var trainer = Trainer.Load(new MemoryStream(bytes!));
        Assert.Equal(status.Steps, trainer.Step);
        return trainer.Parameters.Values.ToArray();
    }

    /// <summary>Stops every silo but keeps the data directory, as a machine that restarts would.</summary>
    public async Task StopKeepingDataAsync()
    {
        keepData = true;
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    bool keepData;

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        if (keepData) return;
        try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Small, fast trial specs on the reverse task.</summary>
public static class Specs
{
    public static readonly DataOptions Data = new() { Task = BuiltInTaskKind.Reverse, Examples = 1200, MinLength = 3, MaxLength = 8, Seed = 3 };

    public static TrialSpec Tiny(int workers = 1, int batch = 8, int steps = 20) => new()
    {
        Data = Data,
        Model = new ModelOptions { EmbeddingSize = 8, HiddenSize = 16 },
        Training = new TrainingOptions { BatchSize = batch, LearningRate = 3e-3, LossNormalization = LossNormalization.Sequences },
        Parallel = new DataParallelOptions { Workers = workers, ChecksumEvery = 5, ExchangeTimeout = TimeSpan.FromSeconds(20) },
        Schedule = new TrialSchedule { Steps = steps, Seed = 11, EvaluateEvery = 10, EvaluationExamples = 50, CheckpointEvery = 10 },
    };
}

[CollectionDefinition(Name)]
public sealed class SharedCluster : ICollectionFixture<SharedClusterFixture>
{
    public const string Name = "two-silo cluster";
}

public sealed class SharedClusterFixture : IAsyncLifetime
{
    public TrainingCluster Cluster { get; private set; } = null!;
    public async Task InitializeAsync() => Cluster = await TrainingCluster.StartAsync(2);
    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
