namespace Distributed.Grains.Abstractions.Training;

/// <summary>Where a trial is in its life.</summary>
[GenerateSerializer, Alias("TrialState")]
public enum TrialState
{
    Queued,
    Running,
    /// <summary>Stopped at a rung with a checkpoint, waiting for a sweep to promote it (ASHA) or end it.</summary>
    Paused,
    Completed,
    StoppedEarly,
    Diverged,
    Failed,
    Cancelled,
}

/// <summary>
/// What one optimizer step of the whole trial did. StepSeconds is its wall time at the coordinator; ComputeSeconds
/// the slowest worker's own work (update, forward, backward, clip): the rest is the gradient exchange.
/// </summary>
[GenerateSerializer, Immutable, Alias("StepMetrics")]
public sealed record StepMetrics(
    [property: Id(0)] long Step,
    [property: Id(1)] double Loss,
    [property: Id(2)] double GradientNorm,
    [property: Id(3)] double LearningRate,
    [property: Id(4)] double SamplesPerSecond,
    [property: Id(5)] double TeacherProbability,
    [property: Id(6)] double StepSeconds,
    [property: Id(7)] double ComputeSeconds);

/// <summary>One evaluation on the validation split.</summary>
[GenerateSerializer, Immutable, Alias("EvaluationMetrics")]
public sealed record EvaluationMetrics(
    [property: Id(0)] long Step,
    [property: Id(1)] double Loss,
    [property: Id(2)] double Perplexity,
    [property: Id(3)] double TokenAccuracy,
    [property: Id(4)] double ExactMatch,
    [property: Id(5)] double Bleu,
    [property: Id(6)] int Examples);

/// <summary>The checkpoint with the best validation objective so far (schedule.selectBy): the one a trial's test figures come from.</summary>
[GenerateSerializer, Immutable, Alias("BestCheckpoint")]
public sealed record BestCheckpoint(
    [property: Id(0)] long Step,
    [property: Id(1)] string Path,
    [property: Id(2)] double Value);

/// <summary>
/// A completed trial's best checkpoint on the held-out test split: every metric, decoded greedily and (when the
/// schedule's beam width is above 1) with that beam. Selection never looks at these; they are reported beside it.
/// </summary>
[GenerateSerializer, Immutable, Alias("TestResult")]
public sealed record TestResult(
    [property: Id(0)] long CheckpointStep,
    [property: Id(1)] EvaluationMetrics Greedy,
    [property: Id(2)] EvaluationMetrics? Beam,
    [property: Id(3)] int BeamWidth)
{
    /// <summary>Decoded as validation was (beam when the width is above 1): what a trial's test objective is read from.</summary>
    public EvaluationMetrics AsValidated => Beam ?? Greedy;
}

/// <summary>A trial at a glance.</summary>
[GenerateSerializer, Immutable, Alias("TrialStatus")]
public sealed record TrialStatus
{
    [Id(0)] public required string TrialId { get; init; }
    [Id(1)] public TrialState State { get; init; }
    /// <summary>Optimizer steps done (the last one recorded).</summary>
    [Id(2)] public long Step { get; init; }
    [Id(3)] public long Steps { get; init; }
    /// <summary>Why the trial ended the way it did, or what it last recovered from.</summary>
    [Id(4)] public string? Reason { get; init; }
    [Id(5)] public long? CheckpointStep { get; init; }
    [Id(6)] public string? CheckpointPath { get; init; }
    /// <summary>Times the trial resumed from a checkpoint after losing a worker or its coordinator.</summary>
    [Id(7)] public int Recoveries { get; init; }
    [Id(8)] public StepMetrics? LastStep { get; init; }
    [Id(9)] public EvaluationMetrics? LastEvaluation { get; init; }
    [Id(10)] public DateTimeOffset? StartedAt { get; init; }
    [Id(11)] public DateTimeOffset? EndedAt { get; init; }
    [Id(12)] public BestCheckpoint? Best { get; init; }
    /// <summary>The best checkpoint on the test split; set when the trial completed and the split is not empty.</summary>
    [Id(13)] public TestResult? Test { get; init; }
    /// <summary>PBT: the last time this trial took another's state.</summary>
    [Id(14)] public ExploitTiming? LastExploit { get; init; }
    /// <summary>How the current (or last) run averages its workers' gradients: "star" through the coordinator, "ring", "halving-doubling", "hierarchical" or "hierarchical halving-doubling"; null for one worker.</summary>
    [Id(15)] public string? Exchange { get; init; }

    public bool IsFinished => State is TrialState.Completed or TrialState.StoppedEarly or TrialState.Diverged or TrialState.Failed or TrialState.Cancelled;
}

/// <summary>A trial's metric history from some step on.</summary>
[GenerateSerializer, Immutable, Alias("TrialMetrics")]
public sealed record TrialMetrics(
    [property: Id(0)] IReadOnlyList<StepMetrics> Steps,
    [property: Id(1)] IReadOnlyList<EvaluationMetrics> Evaluations);
