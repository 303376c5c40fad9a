using Distributed.Grains.Abstractions.Training;
using Orleans.Concurrency;

namespace Distributed.Grains.Training;

/// <summary>
/// One model replica of a trial with its slice of every batch, keyed "trialId/rank". The TorchSharp work runs on
/// the replica's own thread, never on the Orleans scheduler.
/// </summary>
[Alias("IWorkerGrain")]
public interface IWorkerGrain : IGrainWithStringKey
{
    /// <summary>Builds the replica from the spec's seed, or restores it from a checkpoint.</summary>
    [Alias("Load")] Task<ReplicaReady> LoadAsync(WorkerAssignment assignment);
    /// <summary>Applies the previous step's averaged gradient (if any), then computes and clips this step's gradient.</summary>
    [Alias("Step")] Task<WorkerGradient> StepAsync(WorkerStep step);
    /// <summary>
    /// A lone worker's stretch: <paramref name="steps"/> steps in one call, each applying the one before it, as
    /// <paramref name="first"/> and then <see cref="AverageSource.Own"/> would; it ends early at a non-finite loss or norm.
    /// </summary>
    [Alias("Stretch")] Task<WorkerGradient[]> StretchAsync(WorkerStep first, int steps);
    /// <summary>Slice <paramref name="chunk"/> of <paramref name="chunks"/> of this step's gradient, for a coordinator in another silo.</summary>
    [Alias("GetGradientChunk")] Task<byte[]> GetGradientChunkAsync(long runId, long step, int chunk, int chunks);
    /// <summary>Slice <paramref name="chunk"/> of the averaged gradient, applied with the next step (<see cref="AverageSource.Chunks"/>).</summary>
    [Alias("PutAverageChunk")] Task PutAverageChunkAsync(long runId, long step, int chunk, int chunks, byte[] values);
    /// <summary>
    /// Places this worker in its run's ring (<see cref="GradientRoute.Ring"/>): a leader connects to the next leader's
    /// silo (the previous one connects to it the same way) and returns once that link is up.
    /// </summary>
    [Alias("JoinRing")] Task JoinRingAsync(long runId, RingPlace place);
    /// <summary>Loss, accuracy, exact match and BLEU of the replica on the validation split; null when it is empty.</summary>
    [Alias("Evaluate")] Task<EvaluationMetrics?> EvaluateAsync(long runId, long step);
    /// <summary>
    /// The checkpoint at <paramref name="checkpointPath"/> on the test split, greedy and with the schedule's beam; null
    /// when the split is empty. The replica itself is left as it is.
    /// </summary>
    [Alias("Test")] Task<TestResult?> TestAsync(long runId, string checkpointPath, long checkpointStep);
    /// <summary>
    /// Writes the replica (weights, optimizer, data position) to the artifact store; with <paramref name="keep"/> (a
    /// PBT member pausing) the bytes stay in memory too, for <see cref="ExportStateAsync"/>.
    /// </summary>
    [Alias("SaveCheckpoint")] Task SaveCheckpointAsync(long runId, string path, bool keep = false);
    /// <summary>Checkpoints the replica where it stands (a stopping coordinator hands its trial over); null when it holds none of that run.</summary>
    [Alias("Drain")] Task<DrainedCheckpoint?> DrainAsync(long runId);
    /// <summary>
    /// The size in bytes of the checkpoint this worker kept at <paramref name="step"/> (a PBT member paused there), for
    /// <see cref="ExportStateChunkAsync"/>; null when it keeps none of that step.
    /// </summary>
    [Alias("ExportState")] Task<int?> ExportStateAsync(long step);
    /// <summary>Slice <paramref name="chunk"/> of <paramref name="chunks"/> of the state <see cref="ExportStateAsync"/> kept: many mid-sized messages cross silos faster than one large one.</summary>
    [AlwaysInterleave, Alias("ExportStateChunk")] Task<Immutable<byte[]>> ExportStateChunkAsync(long step, int chunk, int chunks);
    /// <summary>The replica's flat parameters.</summary>
    [Alias("GetParameters")] Task<Immutable<float[]>> GetParametersAsync();
    /// <summary>Frees the replica (the trial ended).</summary>
    [Alias("Release")] Task ReleaseAsync();
}

[GenerateSerializer, Immutable, Alias("WorkerAssignment")]
public sealed record WorkerAssignment(
    [property: Id(0)] string TrialId,
    [property: Id(1)] long RunId,
    [property: Id(2)] int Rank,
    [property: Id(3)] TrialSpec Spec,
    [property: Id(4)] string? CheckpointPath)
{
    /// <summary>PBT: take the state of this trial's workers at its step instead of reading <see cref="CheckpointPath"/>, which stays the fallback.</summary>
    [Id(5)] public ReplicaSource? CopyFrom { get; init; }
    /// <summary>The run's secret for the direct gradient link: a connection whose greeting does not carry it is dropped.</summary>
    [Id(7)] public byte[]? LinkToken { get; init; }
}

/// <summary>Whose replicas, at which step, a PBT member copies.</summary>
[GenerateSerializer, Immutable, Alias("ReplicaSource")]
public sealed record ReplicaSource([property: Id(0)] string TrialId, [property: Id(1)] long Step)
{
    /// <summary>Read the source's checkpoint even when its replicas still hold the state (to compare the two ways).</summary>
    [Id(2)] public bool ThroughStore { get; init; }
}

[GenerateSerializer, Immutable, Alias("ReplicaReady")]
public sealed record ReplicaReady(
    [property: Id(0)] int Parameters,
    [property: Id(1)] long Step,
    [property: Id(2)] ulong Checksum,
    [property: Id(3)] string Silo,
    [property: Id(4)] string? Link)
{
    /// <summary>Where a copied state came from: "workers" (straight from the source's replicas) or "store" (its checkpoint).</summary>
    [Id(5)] public string? CopiedVia { get; init; }
    /// <summary>Seconds spent getting the copied state's bytes, before the replica was built from them.</summary>
    [Id(6)] public double CopySeconds { get; init; }
    /// <summary>Set when the worker's silo has no room for the replica now (its memory budget): nothing was loaded.</summary>
    [Id(7)] public string? NoRoom { get; init; }
}

/// <summary>Where the averaged gradient a worker applies comes from.</summary>
[GenerateSerializer, Alias("AverageSource")]
public enum AverageSource
{
    /// <summary>Nothing to apply (the first step of a run).</summary>
    None,
    /// <summary>In <see cref="WorkerStep.Average"/>: within a silo it is shared, not copied, so nobody writes to it after sending.</summary>
    Inline,
    /// <summary>Assembled from <see cref="IWorkerGrain.PutAverageChunkAsync"/> calls.</summary>
    Chunks,
    /// <summary>Read from the direct gradient link to the coordinator.</summary>
    Link,
    /// <summary>The worker's own clipped gradient: a trial of one worker has nothing to average.</summary>
    Own,
    /// <summary>Already in the worker's gradient: the ring allreduce of the step left the mean there.</summary>
    Ring,
}

/// <summary>How a worker returns the gradient it computed.</summary>
[GenerateSerializer, Alias("GradientRoute")]
public enum GradientRoute
{
    /// <summary>Whole, in the reply.</summary>
    Inline,
    /// <summary>Kept, and served by <see cref="IWorkerGrain.GetGradientChunkAsync"/> so transfer overlaps averaging.</summary>
    Chunks,
    /// <summary>Written to the direct gradient link before the reply.</summary>
    Link,
    /// <summary>Not sent: the only worker clips it and applies it itself (<see cref="AverageSource.Own"/>).</summary>
    Keep,
    /// <summary>Averaged among the workers around their ring before the reply (<see cref="AverageSource.Ring"/>).</summary>
    Ring,
}

/// <summary>One exchange: the averaged gradient of the previous step to apply, and whether (and how) to compute the next one.</summary>
[GenerateSerializer, Immutable, Alias("WorkerStep")]
public sealed record WorkerStep(
    [property: Id(0)] long RunId,
    [property: Id(1)] long Step,
    [property: Id(2)] bool Compute,
    [property: Id(3)] bool Checksum)
{
    [Id(4)] public AverageSource Apply { get; init; }
    [Id(5)] public byte[]? Average { get; init; }
    /// <summary>Global norm clipping's factor, applied to the average before the update (1: none).</summary>
    [Id(6)] public float Scale { get; init; } = 1f;
    [Id(7)] public GradientRoute Route { get; init; }
}

/// <summary>A worker's clipped gradient of one step (flat float32 bytes) and what came with it.</summary>
[GenerateSerializer, Immutable, Alias("WorkerGradient")]
public sealed record WorkerGradient(
    [property: Id(0)] long Step,
    [property: Id(1)] double Loss,
    [property: Id(2)] double PreClipNorm,
    [property: Id(3)] double TeacherProbability,
    [property: Id(4)] int Examples,
    [property: Id(5)] byte[]? Gradient,
    [property: Id(6)] ulong? Checksum,
    [property: Id(7)] double ComputeSeconds)
{
    /// <summary>
    /// Ring: the sum of squares of the whole mean before clipping, the same on every worker (each slice's travels with it).
    /// </summary>
    [Id(8)] public double MeanSquares { get; init; }

    /// <summary>False once the loss or the gradient norm is NaN or infinite: the trial has diverged at this step.</summary>
    public bool IsFinite => double.IsFinite(Loss) && double.IsFinite(PreClipNorm);
}

/// <summary>
/// A worker's place in its run's ring. <see cref="Group"/> are the ranks that sum in this silo's shared memory, its
/// leader (the one in the ring) first; the leaders form a ring of <see cref="Leaders"/>, this group's leader at
/// <see cref="Position"/>, connecting to the leader of rank <see cref="NextRank"/> at <see cref="NextLink"/>. A flat
/// ring is groups of one. When the leaders reduce by halving and doubling instead, <see cref="LeaderRanks"/> and
/// <see cref="LeaderLinks"/> name every leader by position, and each connects to its partners above it. With
/// <see cref="OverlapBackward"/> (every group is one worker, and the clipping allows it: <c>GradientExchange.OverlapsBackward</c>) every worker starts the
/// decoder's part of its allreduce while the encoder's backward runs.
/// </summary>
[GenerateSerializer, Immutable, Alias("RingPlace")]
public sealed record RingPlace(
    [property: Id(0)] int[] Group,
    [property: Id(1)] int Position,
    [property: Id(2)] int Leaders,
    [property: Id(3)] int NextRank,
    [property: Id(4)] string? NextLink,
    [property: Id(5)] int[]? LeaderRanks = null,
    [property: Id(6)] string?[]? LeaderLinks = null,
    [property: Id(7)] bool OverlapBackward = false)
{
    /// <summary>True when the leaders reduce by recursive halving and doubling, not around the ring.</summary>
    public bool HalvingDoubling => LeaderRanks is not null;

    /// <summary>What is wrong with this place for rank <paramref name="rank"/> of <paramref name="workers"/>, or null.</summary>
    public string? Problem(int rank, int workers)
    {
        if (Group is null || Group.Length is < 1 || Group.Length > workers) return $"a group of 1..{workers} ranks";
        if (Group.Any(r => r < 0 || r >= workers) || Group.Distinct().Count() != Group.Length) return $"distinct group ranks in 0..{workers - 1}";
        if (!Group.Contains(rank)) return $"a group that holds rank {rank}";
        if (Leaders < 1 || Leaders > workers || Position < 0 || Position >= Leaders) return $"a position within 1..{workers} leaders";
        if (NextRank < 0 || NextRank >= workers) return $"a next rank in 0..{workers - 1}";
        if (OverlapBackward && Group.Length != 1) return "groups of one worker to overlap the backward pass";
        if (HalvingDoubling) return PartnersProblem(rank, workers);
        if (Group[0] == rank && Leaders > 1 && !System.Net.IPEndPoint.TryParse(NextLink ?? "", out _)) return "the next leader's link as address:port";
        return null;
    }

    string? PartnersProblem(int rank, int workers)
    {
        if (LeaderRanks!.Length != Leaders || LeaderLinks is null || LeaderLinks.Length != Leaders) return $"{Leaders} leader ranks and links";
        if (LeaderRanks.Any(r => r < 0 || r >= workers) || LeaderRanks.Distinct().Count() != Leaders) return $"distinct leader ranks in 0..{workers - 1}";
        if (LeaderRanks[Position] != Group[0]) return $"leader rank {Group[0]} at position {Position}";
        if (Group[0] != rank) return null;
        foreach (int partner in HalvingDoublingAllreduce.Partners(Position, Leaders))
            if (partner > Position && !System.Net.IPEndPoint.TryParse(LeaderLinks[partner] ?? "", out _)) return $"the link of the leader at position {partner} as address:port";
        return null;
    }
}

/// <summary>A checkpoint written where a replica stood when its silo, or its coordinator's, began to stop.</summary>
[GenerateSerializer, Immutable, Alias("DrainedCheckpoint")]
public sealed record DrainedCheckpoint([property: Id(0)] long Step, [property: Id(1)] string Path);
