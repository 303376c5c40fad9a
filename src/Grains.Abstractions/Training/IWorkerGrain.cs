using Orleans.Concurrency;

namespace Distributed.Grains.Abstractions.Training;

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
    /// <summary>Slice <paramref name="chunk"/> of <paramref name="chunks"/> of this step's gradient, for a coordinator in another silo.</summary>
    [Alias("GetGradientChunk")] Task<byte[]> GetGradientChunkAsync(long runId, long step, int chunk, int chunks);
    /// <summary>Slice <paramref name="chunk"/> of the averaged gradient, applied with the next step (<see cref="WorkerStep.ApplyChunks"/>).</summary>
    [Alias("PutAverageChunk")] Task PutAverageChunkAsync(long runId, long step, int chunk, int chunks, byte[] values);
    /// <summary>Loss, accuracy, exact match and BLEU of the replica on the validation split; null when it is empty.</summary>
    [Alias("Evaluate")] Task<EvaluationMetrics?> EvaluateAsync(long runId, long step);
    /// <summary>Writes the replica (weights, optimizer, data position) to the artifact store.</summary>
    [Alias("SaveCheckpoint")] Task SaveCheckpointAsync(long runId, string path);
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
    [property: Id(4)] string? CheckpointPath);

[GenerateSerializer, Immutable, Alias("ReplicaReady")]
public sealed record ReplicaReady(
    [property: Id(0)] int Parameters,
    [property: Id(1)] long Step,
    [property: Id(2)] ulong Checksum,
    [property: Id(3)] string Silo);

/// <summary>
/// One exchange: the averaged gradient of the previous step to apply, and whether to compute the next one.
/// Within a silo the average travels whole and is shared, not copied, so nobody writes to it after sending. To a
/// worker in another silo it travels in chunks (<see cref="IWorkerGrain.PutAverageChunkAsync"/>) so that the
/// transfer overlaps the averaging, and the worker's gradient comes back the same way (<see cref="Chunks"/> &gt; 0).
/// </summary>
[GenerateSerializer, Immutable, Alias("WorkerStep")]
public sealed record WorkerStep(
    [property: Id(0)] long RunId,
    [property: Id(1)] long Step,
    [property: Id(2)] byte[]? Average,
    [property: Id(3)] bool Compute,
    [property: Id(4)] bool Checksum)
{
    /// <summary>Apply the average assembled from chunks instead of <see cref="Average"/>.</summary>
    [Id(5)] public bool ApplyChunks { get; init; }
    /// <summary>Global norm clipping's factor, applied to the average before the update (1: none).</summary>
    [Id(6)] public float Scale { get; init; } = 1f;
    /// <summary>0: reply with the whole gradient; otherwise keep it and serve it in this many chunks.</summary>
    [Id(7)] public int Chunks { get; init; }
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
    [property: Id(7)] double ComputeSeconds);
