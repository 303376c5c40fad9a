using Distributed.Grains.Abstractions.Training;
using Orleans.Concurrency;

namespace Distributed.Grains.Abstractions.Sweeps;

[GenerateSerializer, Alias("SweepState")]
public enum SweepState
{
    Running,
    Completed,
    Cancelled,
}

/// <summary>One trial of a sweep as the sweep sees it.</summary>
[GenerateSerializer, Immutable, Alias("SweepTrial")]
public sealed record SweepTrial
{
    [Id(0)] public int Number { get; init; }
    [Id(1)] public required string TrialId { get; init; }
    [Id(2)] public int Configuration { get; init; }
    [Id(3)] public IReadOnlyList<FactorValue> Factors { get; init; } = [];
    [Id(4)] public int Repeat { get; init; }
    [Id(5)] public ulong Seed { get; init; }
    [Id(6)] public TrialState State { get; init; }
    [Id(7)] public long Step { get; init; }
    [Id(8)] public long Steps { get; init; }
    /// <summary>Best objective over its evaluations, and the last one.</summary>
    [Id(9)] public double? Best { get; init; }
    [Id(10)] public double? Final { get; init; }
    [Id(11)] public string? Reason { get; init; }
    [Id(12)] public string? CheckpointPath { get; init; }
    [Id(13)] public DateTimeOffset? StartedAt { get; init; }
    [Id(14)] public DateTimeOffset? EndedAt { get; init; }
    /// <summary>Last training loss and throughput, for progress bars.</summary>
    [Id(15)] public double? Loss { get; init; }
    [Id(16)] public double? SamplesPerSecond { get; init; }
    /// <summary>The objective of its best validation checkpoint on the test split (decoded as validation is); completed trials only.</summary>
    [Id(17)] public double? Test { get; init; }
    /// <summary>A trial of the confirmation stage: a top configuration again with a seed the search never used.</summary>
    [Id(18)] public bool Confirmation { get; init; }

    public bool IsFinished => State is TrialState.Completed or TrialState.StoppedEarly or TrialState.Diverged or TrialState.Failed or TrialState.Cancelled;
    public TimeSpan? WallTime => StartedAt is { } s ? (EndedAt ?? DateTimeOffset.UtcNow) - s : null;
}

/// <summary>A sweep at a glance: its spec, its state, and every trial.</summary>
[GenerateSerializer, Immutable, Alias("SweepStatus")]
public sealed record SweepStatus
{
    [Id(0)] public required string SweepId { get; init; }
    [Id(1)] public required SweepSpec Spec { get; init; }
    [Id(2)] public SweepState State { get; init; }
    [Id(3)] public IReadOnlyList<SweepTrial> Trials { get; init; } = [];
    [Id(4)] public DateTimeOffset CreatedAt { get; init; }
    [Id(5)] public DateTimeOffset? EndedAt { get; init; }
    /// <summary>Training steps all trials ran, and what the full grid would have run.</summary>
    [Id(6)] public long StepsRun { get; init; }
    [Id(7)] public long StepsPlanned { get; init; }
    /// <summary>TPE: configurations proposed so far. PBT: perturbations done so far.</summary>
    [Id(8)] public int Generation { get; init; }
    /// <summary>PBT: every exploit, in order: who copied whom at which step, and the values it took.</summary>
    [Id(9)] public IReadOnlyList<PbtExploit> Exploits { get; init; } = [];
    /// <summary>Who submitted the sweep: the subject of the client certificate, as the silo saw it.</summary>
    [Id(10)] public string? SubmittedBy { get; init; }

    public bool IsFinished => State != SweepState.Running;
}

/// <summary>
/// One PBT exploit: at <see cref="Step"/> (perturbation <see cref="Generation"/>) member <see cref="Trial"/>, in the
/// bottom quantile with <see cref="Score"/>, took the weights and optimizer state of <see cref="From"/> (score
/// <see cref="FromScore"/>) and went on with <see cref="Values"/>: the mutable options after exploring, as JSON.
/// </summary>
[GenerateSerializer, Immutable, Alias("PbtExploit")]
public sealed record PbtExploit(
    [property: Id(0)] int Generation,
    [property: Id(1)] long Step,
    [property: Id(2)] int Trial,
    [property: Id(3)] int From,
    [property: Id(4)] double Score,
    [property: Id(5)] double FromScore,
    [property: Id(6)] IReadOnlyList<string> Values);

/// <summary>What deleting a sweep removed: its trials' records, and every artifact of theirs and its own.</summary>
[GenerateSerializer, Immutable, Alias("SweepDeletion")]
public sealed record SweepDeletion(
    [property: Id(0)] string SweepId,
    [property: Id(1)] int Trials,
    [property: Id(2)] int Artifacts,
    [property: Id(3)] bool Cancelled);
