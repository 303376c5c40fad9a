using System.Diagnostics;
using System.Runtime.InteropServices;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Training;
using Distributed.Models.Training;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Training;

/// <summary>
/// One run of a trial: load the replicas, then every step exchange gradients with all workers, average them and
/// send the average back with the next request (one round trip per step). Checks the replicas against each other,
/// evaluates, checkpoints, reports to the trial, and goes back to the last checkpoint when a worker is lost.
/// </summary>
sealed class DataParallelLoop(TrialRun run, IGrainFactory grains, IArtifactStore store, ILogger log, CancellationToken cancel)
{
    static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(1);
    const int KeptCheckpoints = 2;

    readonly TrialSpec spec = run.Spec;
    readonly ITrialGrain trial = grains.GetGrain<ITrialGrain>(run.TrialId);
    readonly IWorkerGrain[] workers = Enumerable.Range(0, run.Spec.Parallel.Workers)
        .Select(rank => grains.GetGrain<IWorkerGrain>(WorkerGrain.KeyOf(run.TrialId, rank))).ToArray();
    readonly List<StepMetrics> pendingSteps = [];
    readonly List<EvaluationMetrics> pendingEvaluations = [];
    readonly Stopwatch sinceReport = Stopwatch.StartNew();
    long step = run.StartStep;
    string? checkpoint = run.CheckpointPath;
    long? restartedFrom;
    byte[]? averageBuffer;

    public async Task RunAsync()
    {
        int recoveries = run.RecoveriesSoFar;
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                await LoadAsync();
                var (outcome, reason) = await TrainAsync();
                await FinishAsync(outcome, reason);
                return;
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                recoveries++;
                if (recoveries > spec.Parallel.MaxRecoveries)
                {
                    await FinishAsync(TrialState.Failed, $"gave up after {recoveries - 1} recoveries; last error: {e.Message}");
                    return;
                }
                log.LogWarning(e, "Trial {Trial} run {Run} lost a worker at step {Step}; resuming from {Checkpoint}", run.TrialId, run.RunId, step, checkpoint ?? "the start");
                step = CheckpointStep();
                restartedFrom = step;
                pendingSteps.Clear();
                pendingEvaluations.Clear();
                // Give the cluster time to notice a dead silo before placing the replicas again.
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(8, 1 << Math.Min(recoveries - 1, 3))), cancel);
            }
        }
    }

    long CheckpointStep() => checkpoint is null ? 0 : long.Parse(Path.GetFileNameWithoutExtension(checkpoint), System.Globalization.CultureInfo.InvariantCulture);

    public static string CheckpointPathOf(string trialId, long step) => $"trials/{trialId}/checkpoints/{step:D10}.ckpt";

    async Task LoadAsync()
    {
        var loads = workers.Select((w, rank) => w.LoadAsync(new WorkerAssignment(run.TrialId, run.RunId, rank, spec, checkpoint))).ToArray();
        var ready = await Within(loads, spec.Parallel.LoadTimeout, "load its replica");
        if (ready.Any(r => r.Checksum != ready[0].Checksum || r.Step != ready[0].Step))
            throw new InvalidOperationException("the replicas differ right after loading");
        step = ready[0].Step;
        log.LogInformation("Trial {Trial} run {Run}: {Workers} replicas of {Parameters} parameters at step {Step} on {Silos}",
            run.TrialId, run.RunId, workers.Length, ready[0].Parameters, step, string.Join(", ", ready.Select(r => r.Silo).Distinct()));
    }

    async Task<(TrialState Outcome, string? Reason)> TrainAsync()
    {
        var schedule = spec.Schedule;
        var parallel = spec.Parallel;
        byte[]? average = null;
        var lap = Stopwatch.StartNew();
        while (step < schedule.Steps)
        {
            bool checksum = workers.Length > 1 && step % parallel.ChecksumEvery == 0;
            var gradients = await ExchangeAsync(new WorkerStep(run.RunId, step, average, Compute: true, checksum));

            for (int rank = 0; rank < gradients.Length; rank++)
                if (!double.IsFinite(gradients[rank].Loss) || !double.IsFinite(gradients[rank].PreClipNorm))
                    return (TrialState.Diverged, $"the loss is {gradients[rank].Loss} and the gradient norm {gradients[rank].PreClipNorm} at step {step + 1} on worker {rank}");
            if (checksum && Mismatch(gradients) is { } mismatch) return (TrialState.Failed, mismatch);

            // Averaging is plain arithmetic but scales with workers × parameters: keep it off the grain's turn.
            var (buffer, norm) = await Task.Run(() => Average(gradients), cancel);
            if (!double.IsFinite(norm)) return (TrialState.Diverged, $"the averaged gradient norm is {norm} at step {step + 1}");
            average = buffer;

            double seconds = lap.Elapsed.TotalSeconds;
            lap.Restart();
            pendingSteps.Add(new StepMetrics(step + 1, gradients.Average(g => g.Loss), norm, LearningRateSchedule.At(spec.Training, step),
                gradients.Sum(g => g.Examples) / Math.Max(seconds, 1e-9), gradients[0].TeacherProbability, seconds, gradients.Max(g => g.ComputeSeconds)));
            step++;

            bool evaluate = step % schedule.EvaluateEvery == 0 || step == schedule.Steps;
            bool save = step % schedule.CheckpointEvery == 0 || step == schedule.Steps;
            if (evaluate || save)
            {
                await ExchangeAsync(new WorkerStep(run.RunId, step, average, Compute: false, Checksum: false));
                average = null;
                if (save) await SaveAsync();
                if (evaluate) await EvaluateAsync();
                lap.Restart();
            }
            if (sinceReport.Elapsed >= ReportEvery) await ReportAsync(final: false);
        }
        return (TrialState.Completed, null);
    }

    (byte[] Average, double Norm) Average(WorkerGradient[] gradients)
    {
        var inputs = gradients.Select(g => GradientBytes.AsFloats(g.Gradient!)).ToList();
        // One buffer for the whole run: every worker has copied the last average before it answers the next step.
        var result = averageBuffer ??= new byte[gradients[0].Gradient!.Length];
        double meanNorm = GradientAverager.Average(inputs, MemoryMarshal.Cast<byte, float>(result.AsSpan()), spec.Parallel.ClipScope,
            spec.Training.Clip, spec.Training.ClipThreshold);
        // Per-worker clipping reports what the workers saw before clipping; global clipping the norm of the mean.
        double norm = spec.Parallel.ClipScope == ClipScope.PerWorker ? gradients.Average(g => g.PreClipNorm) : meanNorm;
        return (result, norm);
    }

    static string? Mismatch(WorkerGradient[] gradients)
    {
        for (int rank = 1; rank < gradients.Length; rank++)
            if (gradients[rank].Checksum != gradients[0].Checksum)
                return $"the replicas diverged from each other before step {gradients[0].Step + 1}: worker {rank}'s parameter checksum " +
                       $"{gradients[rank].Checksum:x16} differs from worker 0's {gradients[0].Checksum:x16}";
        return null;
    }

    Task<WorkerGradient[]> ExchangeAsync(WorkerStep request) =>
        Within(workers.Select(w => w.StepAsync(request)).ToArray(), spec.Parallel.ExchangeTimeout, $"exchange gradients of step {request.Step + 1}");

    async Task SaveAsync()
    {
        var path = CheckpointPathOf(run.TrialId, step);
        await Within([workers[0].SaveCheckpointAsync(run.RunId, path)], spec.Parallel.LoadTimeout, "write a checkpoint");
        checkpoint = path;
        await ReportAsync(final: false, checkpointStep: step);
        var all = await store.ListAsync($"trials/{run.TrialId}/checkpoints/", cancel);
        foreach (var old in all.Take(Math.Max(0, all.Count - KeptCheckpoints))) await store.DeleteAsync(old, cancel);
    }

    async Task EvaluateAsync()
    {
        var evaluation = await Within([workers[0].EvaluateAsync(run.RunId, step)], spec.Parallel.LoadTimeout, "evaluate");
        if (evaluation[0] is { } metrics) pendingEvaluations.Add(metrics);
    }

    /// <summary>Awaits every call, or throws naming the workers that did not answer in time or failed.</summary>
    async Task<T[]> Within<T>(Task<T>[] calls, TimeSpan timeout, string what)
    {
        try
        {
            return await Task.WhenAll(calls).WaitAsync(timeout, cancel);
        }
        catch (TimeoutException)
        {
            var late = Enumerable.Range(0, calls.Length).Where(r => !calls[r].IsCompleted);
            throw new TimeoutException($"worker {string.Join(", ", late)} did not {what} within {timeout.TotalSeconds:0.###} s");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var failed = Enumerable.Range(0, calls.Length).FirstOrDefault(r => calls[r].IsFaulted);
            throw new InvalidOperationException($"worker {failed} could not {what}: {e.Message}", e);
        }
    }

    Task Within(Task[] calls, TimeSpan timeout, string what) =>
        Within(calls.Select(async c => { await c; return true; }).ToArray(), timeout, what);

    async Task ReportAsync(bool final, long? checkpointStep = null, TrialState? outcome = null, string? reason = null)
    {
        var report = new TrialReport
        {
            RunId = run.RunId,
            Steps = pendingSteps.ToList(),
            Evaluations = pendingEvaluations.ToList(),
            CheckpointStep = checkpointStep,
            CheckpointPath = checkpointStep is null ? null : checkpoint,
            RestartedFrom = restartedFrom,
            Outcome = outcome,
            Reason = reason,
        };
        try
        {
            await trial.ReportAsync(report).WaitAsync(TimeSpan.FromSeconds(30), cancel);
            pendingSteps.Clear();
            pendingEvaluations.Clear();
            restartedFrom = null;
            sinceReport.Restart();
        }
        catch (Exception e) when (!final && e is not OperationCanceledException)
        {
            // The trial's silo may be gone; the metrics stay pending and go with the next report.
            log.LogWarning(e, "Trial {Trial}: progress report failed; keeping {Count} steps for the next one", run.TrialId, pendingSteps.Count);
        }
    }

    async Task FinishAsync(TrialState outcome, string? reason)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await ReportAsync(final: true, outcome: outcome, reason: reason);
                break;
            }
            catch (Exception e) when (attempt < 5 && e is not OperationCanceledException)
            {
                await Task.Delay(TimeSpan.FromSeconds(1 << attempt), cancel);
            }
        }
        await Task.WhenAll(workers.Select(async w =>
        {
            try { await w.ReleaseAsync(); }
            catch (Exception e) { log.LogDebug(e, "Releasing a worker of {Trial} failed", run.TrialId); }
        }));
    }
}
