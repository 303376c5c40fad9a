using System.Diagnostics;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Hosting;
using Distributed.Models.Training;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Distributed.Options;
using Distributed.Grains.Storage;
using Distributed.Grains.Telemetry;

namespace Distributed.Grains.Training;

/// <summary>
/// One run of a trial: load the replicas, then step them through the <see cref="GradientExchange"/> (one round trip
/// per step). Checks the replicas against each other, evaluates, checkpoints, reports to the trial, and goes back to
/// the last checkpoint when a worker is lost.
/// </summary>
sealed class DataParallelLoop(TrialRun run, string silo, IGrainFactory grains, IArtifactStore store, ILogger log, CancellationToken cancel)
{
    static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(1);
    const int KeptCheckpoints = 2;
    // A lone worker's stretch: long enough that a round trip is a small share of it, short enough that a stop,
    // a drain or a progress report waits at most about half a second for it.
    const int MaxStretch = 16;
    static readonly TimeSpan StretchTime = TimeSpan.FromSeconds(0.5);
    // How often a run that waits for room tries to load again.
    static readonly TimeSpan RoomRetry = TimeSpan.FromSeconds(3);

    readonly TrialSpec spec = run.Spec;
    readonly ITrialGrain trial = grains.GetGrain<ITrialGrain>(run.TrialId);
    readonly List<StepMetrics> pendingSteps = [];
    readonly List<EvaluationMetrics> pendingEvaluations = [];
    readonly Stopwatch sinceReport = Stopwatch.StartNew();
    long step = run.StartStep;
    string? checkpoint = run.CheckpointPath;
    // PBT: the first load copies these replicas; a recovery after it reads the checkpoint the copy was saved as.
    ReplicaSource? copyFrom = run.CopyFrom;
    ExploitTiming? exploit;
    // Handed to the workers through Orleans (authenticated); a gradient link must greet with it.
    readonly byte[] linkToken = System.Security.Cryptography.RandomNumberGenerator.GetBytes(GradientChannel.TokenBytes);
    BestCheckpoint? best = run.Best;
    // A new best the trial has not taken yet: until it has, the one its record names must stay.
    bool bestUnreported;
    long? restartedFrom;
    bool waitingForRoom;
    // Recoveries since the last new checkpoint: only a run that stops making progress is given up on.
    int recoveries;
    readonly GradientExchange exchange = new(run, silo, grains, cancel);
    string[] replicaSilos = [];

    IWorkerGrain[] workers => exchange.Workers;

    public async Task RunAsync()
    {
        TrainingMeter.ReplicasDemanded.Add(workers.Length);
        try
        {
            await RunAttemptsAsync();
        }
        finally
        {
            TrainingMeter.ReplicasDemanded.Add(-workers.Length);
            Waiting(false);
            exchange.Dispose();
        }
    }

    /// <summary>Whether this run waits for room, kept in the silo's gauge; true when that changed.</summary>
    bool Waiting(bool now)
    {
        if (now == waitingForRoom) return false;
        waitingForRoom = now;
        TrainingMeter.WaitingForRoom.Add(now ? 1 : -1);
        return true;
    }

    /// <summary>A note for the trial's status, best effort: the trial's silo may be away for a moment.</summary>
    async Task TellTrialAsync(TrialReport note)
    {
        try
        {
            await trial.ReportAsync(note).WaitAsync(TimeSpan.FromSeconds(10), cancel);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogDebug(e, "Trial {Trial}: a status note was not taken", run.TrialId);
        }
    }

    /// <summary>A worker's silo had no room for its replica: the run waits and loads again, without counting a recovery.</summary>
    sealed class NoRoomException(string reason) : Exception(reason);

    async Task RunAttemptsAsync()
    {
        recoveries = run.RecoveriesSoFar;
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                await LoadAsync();
                var (outcome, reason) = await TrainAsync();
                var test = outcome == TrialState.Completed ? await TestAsync() : null;
                await FinishAsync(outcome, reason, test);
                return;
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return;
            }
            catch (NoRoomException e)
            {
                // Not a recovery: nothing was lost. Trials ending, or silos added (the autoscaler reads the gauge), make room.
                if (Waiting(true))
                {
                    log.LogInformation("Trial {Trial} run {Run} waits for room: {Reason}", run.TrialId, run.RunId, e.Message);
                    await TellTrialAsync(new TrialReport { RunId = run.RunId, WaitingForRoom = e.Message });
                }
                await ReleaseWorkersAsync(grains, run.TrialId, workers.Length, log);
                await Task.Delay(RoomRetry, cancel);
            }
            catch (Exception e)
            {
                recoveries++;
                TrainingMeter.Recoveries.Add(1, TrainingMeter.Trial(run.TrialId));
                if (recoveries > spec.Parallel.MaxRecoveries)
                {
                    await FinishAsync(TrialState.Failed, $"gave up after {recoveries - 1} recoveries without a new checkpoint; last error: {e.Message}");
                    return;
                }
                log.LogWarning(e, "Trial {Trial} run {Run} lost a worker at step {Step}; resuming from {Checkpoint}", run.TrialId, run.RunId, step, checkpoint ?? "the start");
                step = CheckpointStep();
                restartedFrom = step;
                // What came after the checkpoint is computed again; what came before it still stands.
                pendingSteps.RemoveAll(s => s.Step > step);
                pendingEvaluations.RemoveAll(e => e.Step > step);
                // Give the cluster time to notice a dead silo before placing the replicas again.
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(8, 1 << Math.Min(recoveries - 1, 3))), cancel);
            }
        }
    }

    /// <summary>
    /// This coordinator's silo is stopping and the run is cancelled: a worker elsewhere checkpoints its replica where
    /// it stands, and the trial gets that checkpoint with the metrics up to it, so the next run starts from there.
    /// </summary>
    public async Task HandOverAsync()
    {
        foreach (int rank in Enumerable.Range(0, workers.Length).OrderBy(Local))
        {
            try
            {
                if (await workers[rank].DrainAsync(run.RunId).WaitAsync(TimeSpan.FromSeconds(30)) is not { } drained) continue;
                await DrainedAsync(drained.Step, drained.Path);
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                log.LogWarning(e, "Trial {Trial}: worker {Rank} could not checkpoint for the hand-over", run.TrialId, rank);
            }
        }

        // Workers on this (stopping) silo are the last resort.
        int Local(int r) => r < replicaSilos.Length && replicaSilos[r] == silo ? 1 : 0;
    }

    /// <summary>A draining worker's checkpoint: newer than ours, it is where a recovery starts, and the trial hears of it.</summary>
    public async Task DrainedAsync(long drainedStep, string path)
    {
        if (drainedStep <= CheckpointStep()) return;
        checkpoint = path;
        recoveries = 0;
        // The metrics up to the drained step go with it: a run resumed from there will not compute them again.
        var steps = pendingSteps.Where(s => s.Step <= drainedStep).ToList();
        var evaluations = pendingEvaluations.Where(e => e.Step <= drainedStep).ToList();
        try
        {
            await trial.ReportAsync(new TrialReport { RunId = run.RunId, Steps = steps, Evaluations = evaluations, CheckpointStep = drainedStep, CheckpointPath = path })
                .WaitAsync(TimeSpan.FromSeconds(10));
            pendingSteps.RemoveAll(s => s.Step <= drainedStep);
            pendingEvaluations.RemoveAll(e => e.Step <= drainedStep);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning(e, "Trial {Trial}: the drained checkpoint at step {Step} could not be reported", run.TrialId, drainedStep);
        }
    }

    long CheckpointStep() => ArtifactPaths.CheckpointStep(checkpoint);


    /// <summary>
    /// Before any worker loads it, the checkpoint is read and its checksum checked; a damaged or missing one gives way to
    /// the newest older one that checks out (retention keeps two), else to the start, and the trial is told at once so
    /// its record points at what the run really starts from and holds every step once.
    /// </summary>
    async Task SkipDamagedCheckpointAsync()
    {
        if (checkpoint is null || await CheckpointProblemAsync(checkpoint) is not { } problem) return;
        var damaged = checkpoint;
        var older = (await store.ListAsync(ArtifactPaths.Checkpoints(run.TrialId), cancel)).Where(p => ArtifactPaths.CheckpointStep(p) < ArtifactPaths.CheckpointStep(damaged)).OrderByDescending(ArtifactPaths.CheckpointStep);
        string? usable = null;
        foreach (var candidate in older)
            if (await CheckpointProblemAsync(candidate) is null) { usable = candidate; break; }
        checkpoint = usable;
        step = CheckpointStep();
        restartedFrom = step;
        pendingSteps.RemoveAll(s => s.Step > step);
        pendingEvaluations.RemoveAll(e => e.Step > step);
        var reason = $"resumed from {(usable is null ? "the start" : $"step {step}")}: checkpoint {damaged} {problem}";
        log.LogWarning("Trial {Trial}: {Reason}", run.TrialId, reason);
        try
        {
            await trial.ReportAsync(new TrialReport { RunId = run.RunId, RestartedFrom = step, CheckpointPath = usable, Reason = reason }).WaitAsync(TimeSpan.FromSeconds(30), cancel);
            restartedFrom = null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The next report carries the restart; the trial's record then still names the damaged one, which is checked again.
            log.LogWarning(e, "Trial {Trial}: the fall-back to {Checkpoint} could not be reported yet", run.TrialId, usable ?? "the start");
        }
    }

    async Task<string?> CheckpointProblemAsync(string path) =>
        await store.ReadAsync(path, cancel) is { } bytes ? Checkpoint.Problem(bytes) : "is missing from the artifact store";




    async Task LoadAsync()
    {
        await SkipDamagedCheckpointAsync();
        // Placement reads these when a worker activates, to keep the trial's replicas within the silos' budgets.
        RequestContext.Set(SpreadPlacement.ReplicaBytesKey, ReplicaMemory.Of(spec).Total);
        RequestContext.Set(SpreadPlacement.ReplicasKey, workers.Length);
        Task<ReplicaReady>[] loads;
        try
        {
            loads = workers.Select((w, rank) => w.LoadAsync(new WorkerAssignment(run.TrialId, run.RunId, rank, spec, checkpoint) { CopyFrom = copyFrom, LinkToken = linkToken })).ToArray();
        }
        finally
        {
            RequestContext.Remove(SpreadPlacement.ReplicaBytesKey);
            RequestContext.Remove(SpreadPlacement.ReplicasKey);
        }
        var loading = Stopwatch.StartNew();
        var ready = await WorkerCalls.Within(loads, spec.Parallel.LoadTimeout, "load its replica", cancel);
        if (ready.FirstOrDefault(r => r.NoRoom is not null) is { NoRoom: { } full }) throw new NoRoomException(full);
        if (Waiting(false)) await TellTrialAsync(new TrialReport { RunId = run.RunId, RoomFound = true });
        if (copyFrom is { } source)
        {
            exploit = new ExploitTiming(source.Step, source.TrialId, ready[0].CopiedVia ?? "store", loading.Elapsed.TotalSeconds)
            {
                CopySeconds = ready.Max(r => r.CopySeconds),
            };
            log.LogInformation("Trial {Trial} took the state of {Source} at step {Step} from its {Via} in {Seconds:F3} s",
                run.TrialId, source.TrialId, source.Step, exploit.Via, exploit.Seconds);
        }
        if (ready.Any(r => r.Checksum != ready[0].Checksum || r.Step != ready[0].Step))
            throw new InvalidOperationException("the replicas differ right after loading");
        step = ready[0].Step;
        replicaSilos = ready.Select(r => r.Silo).ToArray();
        await exchange.OpenAsync(ready, linkToken);
        log.LogInformation("Trial {Trial} run {Run}: {Workers} replicas of {Parameters} parameters at step {Step} on {Silos}",
            run.TrialId, run.RunId, workers.Length, ready[0].Parameters, step, string.Join(", ", ready.Select(r => r.Silo).Distinct()));
        if (copyFrom is not null)
        {
            // The copy becomes this trial's own checkpoint at once: a recovery from here on resumes the line it took.
            await SaveAsync();
            copyFrom = null;
        }
    }

    async Task<(TrialState Outcome, string? Reason)> TrainAsync()
    {
        var schedule = spec.Schedule;
        var parallel = spec.Parallel;
        Averaged? average = null;
        var lap = Stopwatch.StartNew();
        long stopAt = Math.Min(run.StopAt ?? schedule.Steps, schedule.Steps);
        double seconds = 0;
        // A run that starts where an evaluation was due (a checkpoint or a drain at that very step, whose run was lost
        // before it reported the evaluation) evaluates there first, unless the trial already has it.
        bool EvaluationDue() => step % schedule.EvaluateEvery == 0 || step == stopAt;
        if (step > 0 && EvaluationDue() && pendingEvaluations.All(e => e.Step != step)
            && (await trial.GetEvaluationsAsync(step - 1).WaitAsync(TimeSpan.FromSeconds(30), cancel)).All(e => e.Step != step))
        {
            await EvaluateAsync();
            await ReportAsync(final: false);
        }
        while (step < stopAt)
        {
            bool checksum = workers.Length > 1 && step % parallel.ChecksumEvery == 0;
            // A lone worker, or a ring averaging among itself, runs a stretch of steps per call: no step pays a round trip.
            WorkerGradient[][] stretch = exchange.Stretches
                ? await exchange.StretchAsync(step, average, StretchLength(stopAt, seconds), checksum)
                : [await exchange.StepAsync(step, average, compute: true, checksum)];
            for (int i = 0; i < stretch.Length; i++)
            {
                var gradients = stretch[i];
                for (int rank = 0; rank < gradients.Length; rank++)
                    if (!gradients[rank].IsFinite)
                        return (TrialState.Diverged, $"the loss is {gradients[rank].Loss} and the gradient norm {gradients[rank].PreClipNorm} at step {step + 1} on worker {rank}");
                if (checksum && i == 0 && Mismatch(gradients) is { } mismatch) return (TrialState.Failed, mismatch);

                average = await exchange.AverageAsync(gradients, step);
                if (!double.IsFinite(average.Norm)) return (TrialState.Diverged, $"the averaged gradient norm is {average.Norm} at step {step + 1}");

                // The steps of a stretch share its wall time.
                if (i == 0)
                {
                    seconds = lap.Elapsed.TotalSeconds / stretch.Length;
                    lap.Restart();
                }
                int examples = gradients.Sum(g => g.Examples);
                double compute = gradients.Max(g => g.ComputeSeconds);
                pendingSteps.Add(new StepMetrics(step + 1, gradients.Average(g => g.Loss), average.Norm, LearningRateSchedule.At(spec.Training, step),
                    examples / Math.Max(seconds, 1e-9), gradients[0].TeacherProbability, seconds, compute));
                Count(examples, seconds, compute);
                step++;
            }

            bool evaluate = EvaluationDue();
            bool save = step % schedule.CheckpointEvery == 0 || step == stopAt;
            if (evaluate || save)
            {
                await exchange.StepAsync(step, average, compute: false, checksum: false);
                average = null;
                // A PBT member pausing keeps its checkpoint in memory for the members that copy it.
                if (save) await SaveAsync(keep: run.HoldAtPause && step == stopAt && step < schedule.Steps);
                if (evaluate)
                {
                    await EvaluateAsync();
                    // At once: a sweep's stopping rule judges on evaluations, and every step after one may be wasted.
                    await ReportAsync(final: false);
                }
                lap.Restart();
            }
            if (sinceReport.Elapsed >= ReportEvery) await ReportAsync(final: false);
        }
        return step < schedule.Steps ? (TrialState.Paused, $"paused at step {step}") : (TrialState.Completed, null);
    }

    /// <summary>One step for the silo's meters: rates and the exchange's share come from these sums.</summary>
    void Count(int examples, double seconds, double compute)
    {
        var trialTag = TrainingMeter.Trial(run.TrialId);
        TrainingMeter.Steps.Add(1, trialTag);
        TrainingMeter.Samples.Add(examples, trialTag);
        TrainingMeter.StepTime.Add(seconds, trialTag);
        TrainingMeter.ExchangeTime.Add(Math.Max(0, seconds - compute), trialTag);
    }

    /// <summary>
    /// Steps from here to the next evaluation, checkpoint or stop, and no more than fit in <see cref="StretchTime"/>
    /// at the last step's pace (one until there is a pace).
    /// </summary>
    int StretchLength(long stopAt, double stepSeconds)
    {
        static long Next(long at, int every) => (at / every + 1) * every;
        long fit = stepSeconds > 0 ? (long)Math.Clamp(StretchTime.TotalSeconds / stepSeconds, 1, MaxStretch) : 1;
        long end = Math.Min(Math.Min(stopAt, step + fit), Math.Min(Next(step, spec.Schedule.EvaluateEvery), Next(step, spec.Schedule.CheckpointEvery)));
        // A ring's replicas compare checksums at the first step of a stretch: one starts at every checksum step.
        if (!exchange.Lone) end = Math.Min(end, Next(step, spec.Parallel.ChecksumEvery));
        return (int)(end - step);
    }

    static string? Mismatch(WorkerGradient[] gradients)
    {
        for (int rank = 1; rank < gradients.Length; rank++)
            if (gradients[rank].Checksum != gradients[0].Checksum)
                return $"the replicas diverged from each other before step {gradients[0].Step + 1}: worker {rank}'s parameter checksum " +
                       $"{gradients[rank].Checksum:x16} differs from worker 0's {gradients[0].Checksum:x16}";
        return null;
    }

    async Task SaveAsync(bool keep = false)
    {
        var path = ArtifactPaths.Checkpoint(run.TrialId, step);
        await WorkerCalls.Within([workers[0].SaveCheckpointAsync(run.RunId, path, keep)], spec.Parallel.LoadTimeout, "write a checkpoint", cancel);
        checkpoint = path;
        recoveries = 0;
        // Older checkpoints go only once the trial's record names this one: until then the one it names must stay.
        if (!await ReportAsync(final: false, checkpointStep: step)) return;
        var all = await store.ListAsync(ArtifactPaths.Checkpoints(run.TrialId), cancel);
        foreach (var old in all.Where(p => p != path).SkipLast(KeptCheckpoints - 1)) await store.DeleteAsync(old, cancel);
    }

    async Task EvaluateAsync()
    {
        var evaluation = await WorkerCalls.Within([workers[0].EvaluateAsync(run.RunId, step)], spec.Parallel.LoadTimeout, "evaluate", cancel);
        if (evaluation[0] is not { } metrics) return;
        TrainingMeter.Evaluations.Add(1, TrainingMeter.Trial(run.TrialId));
        pendingEvaluations.Add(metrics);
        var selectBy = spec.Schedule.SelectBy;
        double value = selectBy.Of(metrics);
        if (!double.IsFinite(value) || best is not null && !selectBy.Better(value, best.Value)) return;
        var path = ArtifactPaths.BestCheckpoint(run.TrialId, step);
        await WorkerCalls.Within([workers[0].SaveCheckpointAsync(run.RunId, path)], spec.Parallel.LoadTimeout, "write the best checkpoint", cancel);
        best = new BestCheckpoint(step, path, value);
        bestUnreported = true;
    }

    /// <summary>The best checkpoint (else the last) on the test split, by worker 0 beside its replica.</summary>
    async Task<TestResult?> TestAsync()
    {
        var (path, at) = best is { } b ? (b.Path, b.Step) : (checkpoint, step);
        if (path is null) return null;
        var result = await WorkerCalls.Within([workers[0].TestAsync(run.RunId, path, at)], spec.Parallel.LoadTimeout, "evaluate on the test split", cancel);
        return result[0];
    }

    /// <summary>Best checkpoints the trial no longer names; one left behind goes at the next new best, or with the trial.</summary>
    async Task DropOlderBestAsync()
    {
        try
        {
            foreach (var old in await store.ListAsync(ArtifactPaths.Best(run.TrialId), cancel))
                if (old != best?.Path) await store.DeleteAsync(old, cancel);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning(e, "Trial {Trial}: older best checkpoints were not deleted", run.TrialId);
        }
    }

    /// <summary>Sends what is pending; true when the trial took it.</summary>
    async Task<bool> ReportAsync(bool final, long? checkpointStep = null, TrialState? outcome = null, string? reason = null, TestResult? test = null)
    {
        bool newBest = bestUnreported;
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
            Best = newBest ? best : null,
            Test = test,
            Exploit = exploit,
            Exchange = exchange.Topology,
        };
        try
        {
            // A report the trial refused (this run is no longer its current one) acknowledges nothing: nothing is deleted on it.
            if (!await trial.ReportAsync(report).WaitAsync(TimeSpan.FromSeconds(30), cancel)) return false;
            pendingSteps.Clear();
            pendingEvaluations.Clear();
            restartedFrom = null;
            exploit = null;
            sinceReport.Restart();
            if (newBest)
            {
                bestUnreported = false;
                await DropOlderBestAsync();
            }
            return true;
        }
        catch (Exception e) when (!final && e is not OperationCanceledException)
        {
            // The trial's silo may be gone; the metrics stay pending and go with the next report.
            log.LogWarning(e, "Trial {Trial}: progress report failed; keeping {Count} steps for the next one", run.TrialId, pendingSteps.Count);
            return false;
        }
    }

    async Task FinishAsync(TrialState outcome, string? reason, TestResult? test = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await ReportAsync(final: true, outcome: outcome, reason: reason, test: test);
                break;
            }
            catch (Exception e) when (attempt < 5 && e is not OperationCanceledException)
            {
                await Task.Delay(TimeSpan.FromSeconds(1 << attempt), cancel);
            }
        }
        // PBT: a paused member keeps its replicas loaded, for the members that copy it to take their state from.
        if (outcome == TrialState.Paused && run.HoldAtPause) return;
        await ReleaseWorkersAsync(grains, run.TrialId, workers.Length, log);
    }

    /// <summary>Frees every replica of a trial that has ended (completed, failed, cancelled); best effort.</summary>
    public static Task ReleaseWorkersAsync(IGrainFactory grains, string trialId, int count, ILogger log) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(async rank =>
        {
            try { await grains.GetGrain<IWorkerGrain>(WorkerGrain.KeyOf(trialId, rank)).ReleaseAsync(); }
            catch (Exception e) { log.LogDebug(e, "Releasing worker {Rank} of {Trial} failed", rank, trialId); }
        }));
}
