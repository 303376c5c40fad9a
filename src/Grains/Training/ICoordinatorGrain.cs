using Distributed.Grains.Abstractions.Training;
namespace Distributed.Grains.Training;

/// <summary>
/// Drives one run of a trial: every step it collects each worker's clipped gradient, averages them and hands
/// the average back, checks the replicas agree, evaluates and checkpoints. Keyed by trial id.
/// </summary>
[Alias("ICoordinatorGrain")]
public interface ICoordinatorGrain : IGrainWithStringKey
{
    /// <summary>Starts <paramref name="run"/> in the background and returns at once; a newer run replaces an older one.</summary>
    [Alias("Run")] Task RunAsync(TrialRun run);
    /// <summary>True while run <paramref name="runId"/> is in progress on this activation.</summary>
    [Alias("IsRunning")] Task<bool> IsRunningAsync(long runId);
    [Alias("Stop")] Task StopAsync(long runId);
    /// <summary>A worker on a stopping silo checkpointed its replica at <paramref name="step"/>: resume from there if it is newer.</summary>
    [Alias("Drained")] Task DrainedAsync(long runId, long step, string path);
}

/// <summary>One attempt at a trial: from the start or from a checkpoint. A newer run id makes older ones stale everywhere.</summary>
[GenerateSerializer, Immutable, Alias("TrialRun")]
public sealed record TrialRun(
    [property: Id(0)] string TrialId,
    [property: Id(1)] long RunId,
    [property: Id(2)] TrialSpec Spec,
    [property: Id(3)] long StartStep,
    [property: Id(4)] string? CheckpointPath,
    [property: Id(5)] int RecoveriesSoFar)
{
    /// <summary>Pause here (checkpoint and evaluate, then end as paused) instead of at the schedule's last step.</summary>
    [Id(6)] public long? StopAt { get; init; }
    /// <summary>The best checkpoint of earlier runs: a new one must beat it.</summary>
    [Id(7)] public BestCheckpoint? Best { get; init; }
    /// <summary>PBT: at a pause the replicas stay loaded, so a member copying this one takes their state straight from them.</summary>
    [Id(8)] public bool HoldAtPause { get; init; }
    /// <summary>PBT: the first load takes this trial's state from the source's workers (the checkpoint path is the fallback).</summary>
    [Id(9)] public ReplicaSource? CopyFrom { get; init; }
}
