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

    public bool IsFinished => State != SweepState.Running;
}

/// <summary>What deleting a sweep removed: its trials' records, and every artifact of theirs and its own.</summary>
[GenerateSerializer, Immutable, Alias("SweepDeletion")]
public sealed record SweepDeletion(
    [property: Id(0)] string SweepId,
    [property: Id(1)] int Trials,
    [property: Id(2)] int Artifacts,
    [property: Id(3)] bool Cancelled);

/// <summary>
/// A sweep, keyed by its id: expands the spec into trials, runs at most maxConcurrent at once, stops weak ones
/// early, and keeps every trial's outcome. Durable: after a restart it carries on where it was.
/// </summary>
[Alias("ISweepGrain")]
public interface ISweepGrain : IGrainWithStringKey
{
    /// <summary>Validates and starts the sweep; the same spec again returns it, another spec is refused.</summary>
    [Alias("Submit")] Task<SweepStatus> SubmitAsync(SweepSpec spec);
    /// <summary>Null when no sweep has this id.</summary>
    [Alias("GetStatus")] Task<SweepStatus?> GetStatusAsync();
    /// <summary>Stops running trials (keeping what they produced) and queued ones never start.</summary>
    [Alias("Cancel")] Task<SweepStatus?> CancelAsync();
    /// <summary>A trial of this sweep evaluated or ended: look now rather than at the next poll. One-way, so a trial never waits on its sweep.</summary>
    [Alias("TrialChanged"), OneWay] Task TrialChangedAsync(string trialId);
    /// <summary>
    /// Deletes a finished or cancelled sweep: its record, its index entry, its trials' records and everything under
    /// trials/&lt;id&gt;/ and sweeps/&lt;id&gt;/. A running one is refused (InvalidOperationException) unless
    /// <paramref name="cancelFirst"/>; an unknown one too (ArgumentException).
    /// </summary>
    [Alias("Delete")] Task<SweepDeletion> DeleteAsync(bool cancelFirst);
}

/// <summary>Every sweep id, so `list` can show them and a restarted silo can resume the unfinished ones.</summary>
[Alias("ISweepIndexGrain")]
public interface ISweepIndexGrain : IGrainWithIntegerKey
{
    [Alias("Add")] Task AddAsync(string sweepId);
    [Alias("List")] Task<IReadOnlyList<string>> ListAsync();
    /// <summary>The sweep ended: no need to wake it any more.</summary>
    [Alias("Finished")] Task FinishedAsync(string sweepId);
    /// <summary>The sweep was deleted: list it no more.</summary>
    [Alias("Remove")] Task RemoveAsync(string sweepId);
    /// <summary>Wakes every unfinished sweep (at a silo's start, and every half minute in case a silo holding one was lost).</summary>
    [Alias("ResumeAll")] Task ResumeAllAsync();
}
