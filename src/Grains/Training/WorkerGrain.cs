using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Datasets;
using Distributed.Grains.Hosting;
using Orleans.Concurrency;
using Orleans.Runtime;
using Distributed.Grains.Storage;
using Distributed.Grains.Telemetry;

namespace Distributed.Grains.Training;

/// <summary>
/// One replica of a trial, keyed "trialId/rank" and spread over the silos by rank. It only awaits: the replica's
/// thread does the TorchSharp work. A request of another run than the one loaded is refused, so a coordinator
/// that lost its trial can never drive these replicas.
/// </summary>
[SpreadPlacement]
public sealed class WorkerGrain(ReplicaHost host, IArtifactStore store, ILocalSiloDetails silo, GradientChannelListener links, DatasetCache datasets) : Grain, IWorkerGrain
{
    Replica? replica;
    long runId = -1;
    WorkerAssignment? assignment;

    public static string KeyOf(string trialId, int rank) => $"{trialId}/{rank}";

    public async Task<ReplicaReady> LoadAsync(WorkerAssignment assignment)
    {
        exported = null;
        byte[]? checkpoint = null;
        string? copiedVia = null;
        var copying = System.Diagnostics.Stopwatch.StartNew();
        // PBT: the source's replicas hand their state over (by reference in one silo); its checkpoint if they no longer hold it.
        if (assignment.CopyFrom is { ThroughStore: false } source && await CopyStateAsync(source) is { } state)
            (checkpoint, copiedVia) = (state, "workers");
        else if (assignment.CheckpointPath is not null)
            (checkpoint, copiedVia) = (await ReadCheckpointAsync(assignment.CheckpointPath), assignment.CopyFrom is null ? null : "store");
        double copySeconds = copying.Elapsed.TotalSeconds;
        var key = this.GetPrimaryKeyString();
        var data = await datasets.LocaliseAsync(assignment.Spec.Data, key);
        runId = -1;
        long? datasetBytes = data.TsvPath is { } file && File.Exists(file) ? new FileInfo(file).Length : null;
        if (host.Reserve(key, ReplicaMemory.Of(assignment.Spec, datasetBytes).Total) is { } refusal)
        {
            // Placed again on the next call, where the budgets may have room by then.
            DeactivateOnIdle();
            return new ReplicaReady(0, 0, 0, silo.SiloAddress.ToString(), null) { NoRoom = $"worker {key} on {silo.SiloAddress}: {refusal}" };
        }
        replica ??= host.Open(key);
        var ready = await replica.LoadAsync(assignment, data, checkpoint, silo.SiloAddress.ToString(), await links.Endpoint);
        runId = assignment.RunId;
        this.assignment = assignment;
        return ready with { CopiedVia = copiedVia, CopySeconds = copySeconds };
    }

    public Task<WorkerGradient> StepAsync(WorkerStep step) => Current(step.RunId).StepAsync(step);

    public Task<WorkerGradient[]> StretchAsync(WorkerStep first, int steps) => Current(first.RunId).StretchAsync(first, steps);

    public Task<byte[]> GetGradientChunkAsync(long run, long step, int chunk, int chunks) =>
        Task.FromResult(Current(run).GradientChunk(chunk, chunks));

    public Task PutAverageChunkAsync(long run, long step, int chunk, int chunks, byte[] values)
    {
        Current(run).PutAverageChunk(chunk, chunks, values);
        return Task.CompletedTask;
    }

    public Task JoinRingAsync(long run, RingPlace place) =>
        Current(run).JoinRingAsync(place, CancellationToken.None).WaitAsync(assignment!.Spec.Parallel.LoadTimeout);

    public Task<EvaluationMetrics?> EvaluateAsync(long run, long step) => Current(run).EvaluateAsync(step);

    public async Task<TestResult?> TestAsync(long run, string checkpointPath, long checkpointStep)
    {
        var replica = Current(run);
        var bytes = await ReadCheckpointAsync(checkpointPath);
        return await replica.TestAsync(bytes, checkpointStep);
    }

    async Task<byte[]> ReadCheckpointAsync(string path)
    {
        var bytes = await store.ReadAsync(path) ?? throw new InvalidOperationException($"checkpoint {path} is missing from the artifact store");
        if (Distributed.Models.Training.Checkpoint.Problem(bytes) is { } problem) throw new InvalidDataException($"checkpoint {path} {problem}");
        return bytes;
    }

    /// <summary>The state a PBT copier asked for, kept while it fetches the slices; dropped when the replica loads or goes.</summary>
    (long Step, byte[] Bytes)? exported;

    public Task<int?> ExportStateAsync(long step) => Task.FromResult(exported is { } kept && kept.Step == step ? kept.Bytes.Length : (int?)null);

    public Task<Immutable<byte[]>> ExportStateChunkAsync(long step, int chunk, int chunks)
    {
        if (exported is not { } kept || kept.Step != step) throw new InvalidOperationException($"worker {this.GetPrimaryKeyString()} keeps no state of step {step}");
        var (start, length) = Replica.ChunkBounds(kept.Bytes.Length, chunk, chunks);
        return Task.FromResult(new Immutable<byte[]>(kept.Bytes.AsSpan(start, length).ToArray()));
    }

    /// <summary>
    /// PBT: the source's state straight from its worker of rank 0 (every replica of a trial is the same), in slices
    /// of about 1 MiB fetched at once; null when that worker no longer holds the step (its silo went away).
    /// </summary>
    async Task<byte[]?> CopyStateAsync(ReplicaSource source)
    {
        var worker = GrainFactory.GetGrain<IWorkerGrain>(KeyOf(source.TrialId, 0));
        if (await worker.ExportStateAsync(source.Step) is not { } total) return null;
        int chunks = Math.Clamp(total >> 20, 1, 32);
        var slices = await Task.WhenAll(Enumerable.Range(0, chunks).Select(c => worker.ExportStateChunkAsync(source.Step, c, chunks)));
        var bytes = new byte[total];
        for (int c = 0; c < chunks; c++) slices[c].Value.CopyTo(bytes, Replica.ChunkBounds(total, c, chunks).Start);
        return bytes;
    }

    public async Task SaveCheckpointAsync(long run, string path, bool keep = false)
    {
        var (step, bytes) = await Current(run).CheckpointAsync();
        // PBT: the checkpoint a held member pauses on is what a copier asks for; kept, it is not serialized twice.
        if (keep) exported = (step, bytes);
        await store.WriteAsync(path, bytes);
        TrainingMeter.CheckpointBytes.Add(bytes.Length);
    }

    public async Task<Immutable<float[]>> GetParametersAsync()
    {
        if (replica is null) throw new InvalidOperationException($"worker {this.GetPrimaryKeyString()} holds no replica");
        return new Immutable<float[]>(await replica.ParametersAsync());
    }

    public Task ReleaseAsync()
    {
        exported = null;
        Release();
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // A silo shutting down (SIGTERM, scale-in) drains: the replica is checkpointed where it stands, so the trial
        // resumes elsewhere from here instead of from its last periodic checkpoint.
        if (reason.ReasonCode == DeactivationReasonCode.ShuttingDown && assignment is { } work && await SaveWhereItStandsAsync(cancellationToken) is { } drained)
        {
            try
            {
                await GrainFactory.GetGrain<ICoordinatorGrain>(work.TrialId).DrainedAsync(work.RunId, drained.Step, drained.Path)
                    .WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Draining is an improvement, not a promise: the trial still has its last periodic checkpoint.
            }
        }
        Release();
    }

    public Task<DrainedCheckpoint?> DrainAsync(long run) => run == runId ? SaveWhereItStandsAsync(CancellationToken.None) : Task.FromResult<DrainedCheckpoint?>(null);

    /// <summary>Writes the replica as it stands to the artifact store; null when there is nothing to save or it failed.</summary>
    async Task<DrainedCheckpoint?> SaveWhereItStandsAsync(CancellationToken cancellation)
    {
        if (replica is null || runId < 0 || assignment is not { } work) return null;
        try
        {
            var (step, bytes) = await replica.DrainCheckpointAsync().WaitAsync(TimeSpan.FromSeconds(30), cancellation);
            var path = ArtifactPaths.Checkpoint(work.TrialId, step);
            await store.WriteAsync(path, bytes, cancellation);
            TrainingMeter.CheckpointBytes.Add(bytes.Length);
            return new DrainedCheckpoint(step, path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return null;
        }
    }

    Replica Current(long run)
    {
        if (replica is null || run != runId)
            throw new InvalidOperationException($"worker {this.GetPrimaryKeyString()} on {silo.SiloAddress} holds no replica of run {run}");
        return replica;
    }

    void Release()
    {
        runId = -1;
        datasets.Release(this.GetPrimaryKeyString());
        if (replica is null) return;
        host.Close(replica.Key);
        replica = null;
    }
}
