using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Hosting;
using Distributed.Grains.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Distributed.Grains.Training;

/// <summary>A trial's durable record: what it is, where it is, and every metric it produced (older steps in segments).</summary>
[GenerateSerializer, Alias("TrialRecord")]
public sealed class TrialRecord
{
    [Id(0)] public TrialSpec? Spec { get; set; }
    [Id(1)] public TrialState State { get; set; } = TrialState.Queued;
    [Id(2)] public string? Reason { get; set; }
    [Id(3)] public long RunId { get; set; }
    [Id(4)] public long? CheckpointStep { get; set; }
    [Id(5)] public string? CheckpointPath { get; set; }
    [Id(6)] public int Recoveries { get; set; }
    [Id(7)] public List<StepMetrics> Steps { get; set; } = [];
    [Id(8)] public List<EvaluationMetrics> Evaluations { get; set; } = [];
    [Id(9)] public DateTimeOffset? StartedAt { get; set; }
    [Id(10)] public DateTimeOffset? EndedAt { get; set; }
    /// <summary>The sweep this trial belongs to, told of every evaluation and of the end.</summary>
    [Id(11)] public string? SweepId { get; set; }
    /// <summary>Where the current run pauses (a sweep's rung); null runs to the end.</summary>
    [Id(12)] public long? PauseAt { get; set; }
    /// <summary>Recoveries since the last new checkpoint: a trial that keeps making progress is never given up on.</summary>
    [Id(13)] public int RecoveriesWithoutProgress { get; set; }
    /// <summary>Steps sealed in the artifact store, oldest first; <see cref="Steps"/> holds the ones after them.</summary>
    [Id(14)] public List<MetricSegment> Segments { get; set; } = [];
    [Id(15)] public BestCheckpoint? Best { get; set; }
    [Id(16)] public TestResult? Test { get; set; }
    /// <summary>PBT: the steps at which this trial took another's state.</summary>
    [Id(17)] public List<long> Exploits { get; set; } = [];
    /// <summary>PBT: replicas stay loaded at each pause, for the members that copy this one.</summary>
    [Id(18)] public bool HoldAtPause { get; set; }
    [Id(19)] public ExploitTiming? LastExploit { get; set; }
    [Id(20)] public string? Exchange { get; set; }
}

/// <summary>
/// Owns one training run: validates and starts it, keeps its record and metrics durable, and watches its
/// coordinator; when the coordinator is gone (its silo stopped or died) it starts a newer run from the last
/// checkpoint on the silos that remain. Being called is enough to bring it back after its own silo is lost.
/// </summary>
public sealed class TrialGrain(
    [PersistentState("trial", StorageNames.State)] IPersistentState<TrialRecord> record,
    Predictor predictor,
    IArtifactStore store,
    TrainingSiloOptions options,
    MemoryBudget memory,
    ILogger<TrialGrain> log) : Grain, ITrialGrain
{
    static readonly TimeSpan WatchEvery = TimeSpan.FromSeconds(2);
    const int SilentChecksBeforeRestart = 3;
    IGrainTimer? watchdog;
    int failedChecks;

    TrialRecord R => record.State;
    string TrialId => this.GetPrimaryKeyString();
    ICoordinatorGrain Coordinator => GrainFactory.GetGrain<ICoordinatorGrain>(TrialId);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (R.State == TrialState.Running) Watch();
        return Task.CompletedTask;
    }

    public Task<TrialStatus> StartAsync(TrialSpec spec) => StartInSweepAsync(spec, null, null);

    /// <summary>A run of this trial from <paramref name="from"/> (its checkpoint at <paramref name="path"/>), pausing where the record says.</summary>
    TrialRun Run(long from, string? path) =>
        new(TrialId, R.RunId, R.Spec!, from, path, R.RecoveriesWithoutProgress) { StopAt = R.PauseAt, Best = R.Best, HoldAtPause = R.HoldAtPause };

    public async Task<TrialStatus> StartInSweepAsync(TrialSpec spec, string? sweepId, long? pauseAt, bool holdAtPause = false)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.EnsureValid();
        // A caller may name only stored datasets: refused here, before anything is recorded.
        if (options.LocalFileProblem(spec.Data.TsvPath) is { } local) throw new ArgumentException(local);
        var tooLarge = R.Spec is null ? memory.Problems(spec, "trial") : [];
        // A caller is told at once; a sweep checked at submit, so here the cluster shrank since: the trial fails, the sweep goes on.
        if (tooLarge.Count > 0 && sweepId is null) throw new ArgumentException(string.Join(Environment.NewLine, tooLarge));
        if (R.Spec is not null)
        {
            if (R.Spec != spec) throw new InvalidOperationException($"trial {TrialId} already exists with another spec");
            return Status();
        }
        R.Spec = spec;
        R.SweepId = sweepId;
        R.PauseAt = pauseAt;
        R.HoldAtPause = holdAtPause;
        R.State = TrialState.Running;
        R.RunId = 1;
        R.StartedAt = DateTimeOffset.UtcNow;
        if (tooLarge.Count > 0)
        {
            await EndAsync(TrialState.Failed, string.Join(" ", tooLarge));
            return Status();
        }
        await record.WriteStateAsync();
        await Coordinator.RunAsync(Run(0, null));
        Watch();
        return Status();
    }

    /// <summary>Metrics since the last checkpoint live in memory; a graceful stop writes them so the next activation has them.</summary>
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (R.Spec is null) return;
        try
        {
            await record.WriteStateAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Another activation already wrote a newer record (a hand-over reached it first): that one stands.
            log.LogDebug(e, "Trial {Trial}: state not written at deactivation", TrialId);
        }
    }

    public Task<TrialStatus> GetStatusAsync() => Task.FromResult(Status());

    public Task<TrialSpec?> GetSpecAsync() => Task.FromResult(R.Spec);

    public async Task<TrialMetrics> GetMetricsAsync(long afterStep) => new(
        await MetricHistory.ReadAsync(store, R, afterStep),
        await MetricHistory.ReadEvaluationsAsync(store, R, afterStep));

    public async Task<IReadOnlyList<EvaluationMetrics>> GetEvaluationsAsync(long afterStep) => await MetricHistory.ReadEvaluationsAsync(store, R, afterStep);

    public async Task<int> DeleteAsync()
    {
        if (R.State is TrialState.Running or TrialState.Paused)
            throw new InvalidOperationException($"trial {TrialId} is {R.State.ToString().ToLowerInvariant()}; cancel it before deleting it");
        // Artifacts first: if this is cut short, the record still says what to delete, and deleting again finishes it.
        int deleted = 0;
        foreach (var path in await store.ListAsync(ArtifactPaths.Trial(TrialId)))
        {
            await store.DeleteAsync(path);
            deleted++;
        }
        // A queued trial of a sweep never had a record.
        if (record.RecordExists) await record.ClearStateAsync();
        record.State = new TrialRecord();
        DeactivateOnIdle();
        return deleted;
    }

    public async Task<int> DropOrphanSegmentsAsync()
    {
        var named = MetricHistory.PathsOf(R).ToHashSet(StringComparer.Ordinal);
        var cutoff = DateTimeOffset.UtcNow - options.OrphanAge;
        int deleted = 0;
        foreach (var path in await store.ListAsync(ArtifactPaths.Metrics(TrialId)))
        {
            // Young ones may be a segment whose record is being written, here or by an activation elsewhere.
            if (named.Contains(path) || await store.WrittenAtAsync(path) is not { } written || written > cutoff) continue;
            await store.DeleteAsync(path);
            deleted++;
        }
        if (R.Spec is null) DeactivateOnIdle();
        return deleted;
    }


    public Task<TrialPrediction> PredictAsync(string input, int beamWidth)
    {
        if (R.Spec is null) throw new ArgumentException($"no trial '{TrialId}'");
        if (R.CheckpointPath is null) throw new InvalidOperationException($"trial {TrialId} has no checkpoint yet (it writes one every {R.Spec.Schedule.CheckpointEvery} steps)");
        return predictor.PredictAsync(R.CheckpointPath, input, beamWidth);
    }

    public async Task<TrialStatus> ResumeAsync(long? pauseAt)
    {
        if (R.State != TrialState.Paused) return Status();
        return await GoOnAsync(pauseAt, reason: null, copyFrom: null);
    }

    /// <summary>A paused trial's next run, from its checkpoint (or, PBT, from <paramref name="copyFrom"/>'s replicas), to <paramref name="pauseAt"/>.</summary>
    async Task<TrialStatus> GoOnAsync(long? pauseAt, string? reason, ReplicaSource? copyFrom)
    {
        R.PauseAt = pauseAt;
        R.State = TrialState.Running;
        R.RunId++;
        R.Reason = reason;
        await record.WriteStateAsync();
        await Coordinator.RunAsync(Run(R.CheckpointStep ?? 0, R.CheckpointPath) with { CopyFrom = copyFrom });
        Watch();
        return Status();
    }

    public async Task<TrialStatus> ExploitAsync(TrialExploit exploit)
    {
        ArgumentNullException.ThrowIfNull(exploit);
        exploit.Spec.EnsureValid();
        // Asked again after a restart: the exploit took, and the run it started is this one.
        if (R.Spec == exploit.Spec && R.Exploits.Contains(exploit.Step)) return Status();
        if (R.State != TrialState.Paused || R.CheckpointStep != exploit.Step)
            throw new InvalidOperationException($"trial {TrialId} is {R.State.ToString().ToLowerInvariant()} at step {R.CheckpointStep ?? 0}, not paused at step {exploit.Step}");
        if (R.Spec!.Model.Shape() != exploit.Spec.Model.Shape())
            throw new ArgumentException($"trial {TrialId}: an exploit changes only options a running model can change (its model's shape is fixed)");
        var source = await GrainFactory.GetGrain<ITrialGrain>(exploit.FromTrialId).GetStatusAsync();
        if (source.CheckpointStep != exploit.Step || source.CheckpointPath is null)
            throw new InvalidOperationException($"trial {exploit.FromTrialId} has no checkpoint at step {exploit.Step} to copy (it is at {source.CheckpointStep ?? 0})");
        // Until the new run saves the copy as this trial's own checkpoint, a recovery resumes from the source's.
        R.Spec = exploit.Spec;
        R.CheckpointPath = source.CheckpointPath;
        R.Exploits.Add(exploit.Step);
        return await GoOnAsync(exploit.PauseAt, $"took the state of {exploit.FromTrialId} at step {exploit.Step}",
            new ReplicaSource(exploit.FromTrialId, exploit.Step) { ThroughStore = exploit.ThroughStore });
    }

    public Task<TrialStatus> CancelAsync() => StopAsync(TrialState.Cancelled, "cancelled by the user");

    public Task<TrialStatus> StopEarlyAsync(string reason) => StopAsync(TrialState.StoppedEarly, reason);

    async Task<TrialStatus> StopAsync(TrialState state, string reason)
    {
        if (R.Spec is not null && R.State is TrialState.Running or TrialState.Paused)
        {
            if (R.State == TrialState.Running) await Coordinator.StopAsync(R.RunId);
            // A PBT member paused with its replicas held lets go of them.
            else if (R.HoldAtPause) await DataParallelLoop.ReleaseWorkersAsync(GrainFactory, TrialId, R.Spec.Parallel.Workers, log);
            await EndAsync(state, reason);
        }
        return Status();
    }

    // What `status` shows of a running trial whose replicas no silo has room for yet.
    const string WaitingPrefix = "waiting for room: ";

    public async Task<bool> ReportAsync(TrialReport report)
    {
        if (report.RunId != R.RunId || R.State != TrialState.Running) return false;
        if (report.RestartedFrom is { } from)
        {
            await MetricHistory.ResumeFromAsync(store, R, from);
            R.Recoveries++;
            R.RecoveriesWithoutProgress++;
            R.Reason = report.Reason ?? $"resumed from step {from} after losing a worker";
            // A fall-back past a damaged checkpoint: the record points at the one the run really started from.
            if (from < (R.CheckpointStep ?? 0))
            {
                R.CheckpointStep = from == 0 ? null : from;
                R.CheckpointPath = report.CheckpointPath;
            }
        }
        if (report.WaitingForRoom is { } why) R.Reason = WaitingPrefix + why[..Math.Min(why.Length, 1000)];
        else if (report.RoomFound && R.Reason?.StartsWith(WaitingPrefix, StringComparison.Ordinal) == true) R.Reason = null;
        long last = MetricHistory.Last(R)?.Step ?? 0;
        R.Steps.AddRange(report.Steps.Where(s => s.Step > last));
        R.Evaluations.AddRange(report.Evaluations);
        failedChecks = 0;
        if (report.Best is { } best) R.Best = best;
        if (report.Test is { } test) R.Test = test;
        if (report.Exploit is { } exploit) R.LastExploit = exploit;
        if (report.Exchange is { } exchange) R.Exchange = exchange;
        if (report.CheckpointStep is { } step)
        {
            if (step > (R.CheckpointStep ?? 0)) R.RecoveriesWithoutProgress = 0;
            R.CheckpointStep = step;
            R.CheckpointPath = report.CheckpointPath;
            await SealMetricsAsync();
        }
        if (report.Outcome == TrialState.Paused) await PauseAsync(report.Reason);
        else if (report.Outcome is { } outcome) await EndAsync(outcome, report.Reason);
        else if (report.CheckpointStep is not null || report.RestartedFrom is not null || report.Best is not null) await record.WriteStateAsync();
        if (R.SweepId is { } sweep && (report.Evaluations.Count > 0 || report.Outcome is not null))
            await GrainFactory.GetGrain<ISweepGrain>(sweep).TrialChangedAsync(TrialId);
        return true;
    }

    void Watch() => watchdog ??= this.RegisterGrainTimer(CheckCoordinatorAsync, new GrainTimerCreationOptions(WatchEvery, WatchEvery) { Interleave = true });

    async Task CheckCoordinatorAsync(CancellationToken cancellation)
    {
        if (R.State != TrialState.Running)
        {
            watchdog?.Dispose();
            watchdog = null;
            return;
        }
        bool running;
        try
        {
            running = await Coordinator.IsRunningAsync(R.RunId).WaitAsync(TimeSpan.FromSeconds(5), cancellation);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning(e, "Trial {Trial}: coordinator did not answer", TrialId);
            if (++failedChecks < SilentChecksBeforeRestart) return;
            running = false;
        }
        if (running || R.State != TrialState.Running) return;
        await RestartAsync();
    }

    async Task RestartAsync()
    {
        failedChecks = 0;
        R.Recoveries++;
        if (++R.RecoveriesWithoutProgress > R.Spec!.Parallel.MaxRecoveries)
        {
            await EndAsync(TrialState.Failed, $"lost its coordinator {R.RecoveriesWithoutProgress} times without a new checkpoint in between; gave up");
            return;
        }
        long from = R.CheckpointStep ?? 0;
        await MetricHistory.ResumeFromAsync(store, R, from);
        R.RunId++;
        R.Reason = $"resumed from step {from} after losing the coordinator";
        await record.WriteStateAsync();
        log.LogWarning("Trial {Trial}: coordinator lost; run {Run} resumes from step {Step}", TrialId, R.RunId, from);
        await Coordinator.RunAsync(Run(from, R.CheckpointPath));
    }

    async Task PauseAsync(string? reason)
    {
        R.State = TrialState.Paused;
        R.Reason = reason;
        await record.WriteStateAsync();
        watchdog?.Dispose();
        watchdog = null;
    }

    async Task EndAsync(TrialState state, string? reason)
    {
        // A completed trial keeps its note of what it recovered from.
        var (why, ended) = (reason ?? R.Reason, DateTimeOffset.UtcNow);
        // Documents first: status reads interleave, and one that says ended must find them written.
        await ResultDocuments.WriteTrialAsync(store, Status() with { State = state, Reason = why, EndedAt = ended }, R.Spec!,
            () => GetMetricsAsync(-1), log);
        (R.State, R.Reason, R.EndedAt) = (state, why, ended);
        await record.WriteStateAsync();
        watchdog?.Dispose();
        watchdog = null;
    }

    /// <summary>Moves the steps up to the checkpoint out of the record once there are enough; until the store takes them they stay.</summary>
    async Task SealMetricsAsync()
    {
        try
        {
            await MetricHistory.SealAsync(store, TrialId, R, options.MetricSegmentSteps);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log.LogWarning(e, "Trial {Trial}: metrics up to step {Step} stay in its record; the artifact store did not take them", TrialId, R.CheckpointStep);
        }
    }

    TrialStatus Status()
    {
        var last = MetricHistory.Last(R);
        return new()
        {
            TrialId = TrialId,
            State = R.State,
            Step = last?.Step ?? R.CheckpointStep ?? 0,
            Steps = R.Spec?.Schedule.Steps ?? 0,
            Reason = R.Reason,
            CheckpointStep = R.CheckpointStep,
            CheckpointPath = R.CheckpointPath,
            Recoveries = R.Recoveries,
            LastStep = last,
            LastEvaluation = MetricHistory.LastEvaluation(R),
            StartedAt = R.StartedAt,
            EndedAt = R.EndedAt,
            Best = R.Best,
            Test = R.Test,
            LastExploit = R.LastExploit,
            Exchange = R.Exchange,
        };
    }
}
