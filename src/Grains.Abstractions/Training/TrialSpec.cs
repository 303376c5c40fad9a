using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Options;

namespace Distributed.Grains.Abstractions.Training;

/// <summary>How a trial spreads over workers and keeps them in step.</summary>
[GenerateSerializer, Immutable, Alias("DataParallelOptions")]
public sealed record DataParallelOptions
{
    /// <summary>Worker grains, each with a replica and slice `rank` of every global batch (1-16).</summary>
    [Id(0)] public int Workers { get; init; } = 1;
    /// <summary>Clip each worker's gradient then average (the default), or clip the average.</summary>
    [Id(1)] public ClipScope ClipScope { get; init; } = ClipScope.PerWorker;
    /// <summary>How long the coordinator waits for every worker's gradient of one step.</summary>
    [Id(2)] public TimeSpan ExchangeTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>How long a worker may take to build or restore its replica.</summary>
    [Id(3)] public TimeSpan LoadTimeout { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>Compare the replicas' parameter checksums every this many steps.</summary>
    [Id(4)] public int ChecksumEvery { get; init; } = 50;
    /// <summary>Resumptions from the same checkpoint (no progress in between) after a lost worker or coordinator before the trial is failed.</summary>
    [Id(5)] public int MaxRecoveries { get; init; } = 5;
    /// <summary>Gradients larger than this go to and from other silos in bulk: over a direct link, or in Orleans chunks of this size.</summary>
    [Id(6)] public int ExchangeChunkBytes { get; init; } = 1 << 20;
    /// <summary>Send large gradients to and from other silos over a direct TCP link when the silo offers one.</summary>
    [Id(7)] public bool DirectLinks { get; init; } = true;
    /// <summary>
    /// How the workers' gradients are averaged: through the coordinator (star), or among the workers over direct links
    /// (ring, or halving-doubling: no link carries more than 2(N−1)/N of a gradient per step), first within each silo
    /// in shared memory (hierarchical). Auto takes the hierarchical exchange when the workers span silos and their
    /// gradients are larger than <see cref="ExchangeChunkBytes"/>, or span 4, 8 or 16 silos with gradients up to 2 MB.
    /// </summary>
    [Id(8)] public Allreduce Allreduce { get; init; } = Allreduce.Auto;
    /// <summary>
    /// Start averaging the decoder's gradients while the encoder's backward still runs, where that is possible: the
    /// workers average among themselves one per silo (ring or halving-doubling) under global clipping or per-worker
    /// clipping by value; under per-worker clipping by norm only two such workers can, each scaling the other's raw
    /// half once both know their norms (a longer ring's later hops carry sums).
    /// </summary>
    [Id(9)] public bool OverlapExchange { get; init; } = true;

    /// <summary>Longest exchange or load timeout: beyond it a lost worker would hold a trial for days.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);
    public const int MaxRecoveriesLimit = 100;
    /// <summary>Largest exchange chunk: well under Orleans' 100 MiB message limit.</summary>
    public const int MaxChunkBytes = 64 << 20;

    public IReadOnlyList<string> Validate(string prefix)
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Workers is >= 1 and <= 16, "workers", "must be 1..16");
        errors.Check(Enum.IsDefined(ClipScope), "clipScope", "must be perWorker or global");
        errors.Check(ExchangeTimeout > TimeSpan.Zero, "exchangeTimeout", "must be > 0");
        errors.Check(ExchangeTimeout <= MaxTimeout, "exchangeTimeout", $"must be at most {MaxTimeout}");
        errors.Check(LoadTimeout > TimeSpan.Zero, "loadTimeout", "must be > 0");
        errors.Check(LoadTimeout <= MaxTimeout, "loadTimeout", $"must be at most {MaxTimeout}");
        errors.Check(ChecksumEvery is >= 1 and <= TrialSchedule.MaxSteps, "checksumEvery", $"must be 1..{TrialSchedule.MaxSteps}");
        errors.Check(MaxRecoveries is >= 0 and <= MaxRecoveriesLimit, "maxRecoveries", $"must be 0..{MaxRecoveriesLimit}");
        errors.Check(ExchangeChunkBytes is >= 1024 and <= MaxChunkBytes, "exchangeChunkBytes", $"must be 1024..{MaxChunkBytes}");
        errors.Check(Enum.IsDefined(Allreduce), "allreduce", "must be auto, star, ring, hierarchical or halvingDoubling");
        errors.Check(Allreduce is Allreduce.Auto or Allreduce.Star || DirectLinks, "allreduce", "ring, hierarchical and halvingDoubling run over direct links: they need directLinks: true");
        return errors.List;
    }
}

/// <summary>How a data-parallel trial averages its workers' gradients each step.</summary>
[GenerateSerializer, Alias("Allreduce")]
public enum Allreduce
{
    /// <summary>
    /// Hierarchical when the workers span silos, every silo offers a link, and gradients are larger than the exchange
    /// chunk or the silos are a power of two from 4 with gradients up to 2 MB; else star.
    /// </summary>
    Auto,
    /// <summary>Every gradient to the coordinator, the mean back from it: its silo carries 2(N−1) gradients a step.</summary>
    Star,
    /// <summary>Reduce-scatter then all-gather around all the workers over direct links (falls back to star when a silo offers none).</summary>
    Ring,
    /// <summary>
    /// The workers of each silo sum in shared memory, one per silo reduces with the other silos' and hands the mean
    /// back: by halving and doubling among a power of two from 4 silos with gradients up to 2 MB, else around a ring.
    /// </summary>
    Hierarchical,
    /// <summary>
    /// Recursive halving then doubling among all the workers over direct links: the ring's bytes in 2 log2 N messages
    /// instead of 2(N − 1), for any N (workers past the largest power of two hand theirs to a partner below it).
    /// </summary>
    HalvingDoubling,
}

/// <summary>How long a trial trains and how often it evaluates and checkpoints.</summary>
[GenerateSerializer, Immutable, Alias("TrialSchedule")]
public sealed record TrialSchedule
{
    /// <summary>Optimizer steps (each one global batch of workers × batch size examples).</summary>
    [Id(0)] public int Steps { get; init; } = 1000;
    /// <summary>Seed of the initial weights, the batch order and dropout.</summary>
    [Id(1)] public ulong Seed { get; init; } = 1;
    [Id(2)] public int EvaluateEvery { get; init; } = 200;
    /// <summary>Validation examples decoded per evaluation; 0 means the whole split.</summary>
    [Id(3)] public int EvaluationExamples { get; init; } = 500;
    [Id(4)] public int BeamWidth { get; init; } = 1;
    [Id(5)] public int CheckpointEvery { get; init; } = 100;
    /// <summary>
    /// Which evaluation makes a checkpoint the trial's best (kept apart, and the one tested on the test split at the
    /// end). A sweep sets it to its objective.
    /// </summary>
    [Id(6)] public Objective SelectBy { get; init; } = new();

    /// <summary>The validation examples an evaluation decodes: the first <see cref="EvaluationExamples"/>, or all when 0.</summary>
    public IReadOnlyList<T> EvaluatedOf<T>(IReadOnlyList<T> valid) =>
        EvaluationExamples > 0 && EvaluationExamples < valid.Count ? valid.Take(EvaluationExamples).ToList() : valid;

    /// <summary>Longest trial, and the bound of every other count of steps in a spec.</summary>
    public const int MaxSteps = OptionLimits.MaxSteps;

    public IReadOnlyList<string> Validate(string prefix)
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Steps is >= 1 and <= MaxSteps, "steps", $"must be 1..{MaxSteps}");
        errors.Check(EvaluateEvery is >= 1 and <= MaxSteps, "evaluateEvery", $"must be 1..{MaxSteps}");
        errors.Check(EvaluationExamples is >= 0 and <= DataOptions.MaxExamples, "evaluationExamples", $"must be 0..{DataOptions.MaxExamples} (0 means the whole validation split)");
        errors.Check(BeamWidth is >= 1 and <= 64, "beamWidth", "must be 1..64");
        errors.Check(CheckpointEvery is >= 1 and <= MaxSteps, "checkpointEvery", $"must be 1..{MaxSteps}");
        errors.Check(SelectBy is not null, "selectBy", "is required");
        if (SelectBy is not null) errors.Add(SelectBy.Validate(OptionErrors.Child(prefix, "selectBy")));
        return errors.List;
    }
}

/// <summary>Everything one training run needs: data, model, optimizer, parallelism and schedule.</summary>
[GenerateSerializer, Immutable, Alias("TrialSpec")]
public sealed record TrialSpec
{
    [Id(0)] public DataOptions Data { get; init; } = new();
    [Id(1)] public ModelOptions Model { get; init; } = new();
    [Id(2)] public TrainingOptions Training { get; init; } = new();
    [Id(3)] public DataParallelOptions Parallel { get; init; } = new();
    [Id(4)] public TrialSchedule Schedule { get; init; } = new();

    /// <summary>Every problem, each naming its field path ("trial.parallel.workers: must be 1..16"); empty when valid.</summary>
    public IReadOnlyList<string> Validate(string prefix = "trial")
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Data is not null, "data", "is required");
        errors.Check(Model is not null, "model", "is required");
        errors.Check(Training is not null, "training", "is required");
        errors.Check(Parallel is not null, "parallel", "is required");
        errors.Check(Schedule is not null, "schedule", "is required");
        if (Data is not null) errors.Add(Data.Validate(OptionErrors.Child(prefix, "data")));
        if (Model is not null) errors.Add(Model.Validate(OptionErrors.Child(prefix, "model")));
        if (Training is not null) errors.Add(Training.Validate(OptionErrors.Child(prefix, "training")));
        if (Parallel is not null) errors.Add(Parallel.Validate(OptionErrors.Child(prefix, "parallel")));
        if (Schedule is not null) errors.Add(Schedule.Validate(OptionErrors.Child(prefix, "schedule")));
        return errors.List;
    }

    public TrialSpec EnsureValid() => OptionErrors.EnsureValid(this, Validate());
}
