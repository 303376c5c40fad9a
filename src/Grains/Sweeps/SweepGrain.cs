using System.Text.RegularExpressions;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Datasets;
using Distributed.Grains.Hosting;
using Distributed.Grains.Storage;
using Distributed.Models;
using Microsoft.Extensions.Logging;
using Distributed.Options;
using Distributed.Sweeps;
using Distributed.Grains.Telemetry;

namespace Distributed.Grains.Sweeps;

/// <summary>
/// A sweep's durable record: its spec, its planned trials and what each did (best and last objective), the last
/// evaluation step judged of each, and ASHA's rungs. Its size depends on the number of trials, not of evaluations:
/// the evaluations themselves stay in the trials' records (the median rule reads them from there).
/// </summary>
[GenerateSerializer, Alias("SweepRecord")]
public sealed class SweepRecord
{
    [Id(0)] public SweepSpec? Spec { get; set; }
    [Id(1)] public SweepState State { get; set; }
    [Id(2)] public List<SweepTrial> Trials { get; set; } = [];
    [Id(3)] public DateTimeOffset CreatedAt { get; set; }
    [Id(4)] public DateTimeOffset? EndedAt { get; set; }
    /// <summary>Records written before 2026-12-05 kept every evaluation's objective here; read once to fill <see cref="Judged"/>, then emptied.</summary>
    [Id(5)] public List<TrialPoint> History { get; set; } = [];
    /// <summary>ASHA: the value each trial recorded at each rung, in the order they arrived.</summary>
    [Id(6)] public Dictionary<long, List<KeyValuePair<int, double>>> Rungs { get; set; } = [];
    [Id(7)] public long StepsRun { get; set; }
    /// <summary>By trial number: the step of the last evaluation the stopping rule judged.</summary>
    [Id(8)] public Dictionary<int, long> Judged { get; set; } = [];
    /// <summary>TPE: the configurations proposed so far, in order, each option's value as JSON.</summary>
    [Id(9)] public List<IReadOnlyList<string>> Proposals { get; set; } = [];
    /// <summary>PBT: each member's options now (JSON, one per option of the space), by trial number.</summary>
    [Id(10)] public Dictionary<int, IReadOnlyList<string>> Values { get; set; } = [];
    /// <summary>PBT: every exploit decided, recorded before any is carried out, so each is decided once.</summary>
    [Id(12)] public List<PbtExploit> Exploits { get; set; } = [];
    /// <summary>PBT: the perturbations decided so far.</summary>
    [Id(13)] public int Generation { get; set; }
    /// <summary>The client certificate's subject the silo saw submit it ("local" from the silo's own process).</summary>
    [Id(14)] public string? SubmittedBy { get; set; }
}

/// <summary>
/// Runs a sweep: expands the spec into trials (ids "sweepId/number"), keeps at most maxConcurrent running, polls
/// them every second, applies the stopping rule to each new evaluation, and records outcomes. Starting a trial is
/// idempotent, so after a restart a trial is never run twice: the sweep asks each running trial where it is. The
/// record is written when something other than progress changed, at most every few seconds: what a crash loses
/// in between, the next poll of the trials finds again.
/// </summary>
public sealed partial class SweepGrain(
    [PersistentState("sweep", StorageNames.State)] IPersistentState<SweepRecord> record,
    DatasetCache datasets,
    MemoryBudget memory,
    IArtifactStore store,
    TrainingSiloOptions training,
    ILogger<SweepGrain> log) : Grain, ISweepGrain
{
    static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(1);
    /// <summary>Least time between two writes of the record while the sweep runs.</summary>
    public static readonly TimeSpan WriteEvery = TimeSpan.FromSeconds(5);
    IGrainTimer? timer;
    IReadOnlyList<PlannedTrial>? plan;
    /// <summary>The median rule's view of every trial's evaluations, read from the trials once per activation.</summary>
    List<TrialPoint>? curves;
    bool dirty;
    // The state a status read reports while the finished record is being written: reads interleave, and one that
    // says finished must find the record durable, as it finds the result documents.
    SweepState? durableState;
    DateTime lastWrite = DateTime.MinValue;

    SweepRecord R => record.State;
    string SweepId => this.GetPrimaryKeyString();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex IdPattern();

    public static bool IsValidId(string id) => IdPattern().IsMatch(id);

    void EnsureValidId()
    {
        if (!IsValidId(SweepId)) throw new ArgumentException($"sweep id '{SweepId}': use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
    }

    static string Describe(PlannedTrial trial) =>
        trial.Factors.Count == 0 ? "the base trial" : string.Join(", ", trial.Factors.Select(f => $"{f.Factor}={f.Value}"));

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (R.History.Count > 0)
        {
            foreach (var trial in R.History.GroupBy(p => p.Trial)) R.Judged[trial.Key] = trial.Max(p => p.Step);
            R.History = [];
            dirty = true;
        }
        if (R.Spec is not null && R.State == SweepState.Running) Poll();
        return Task.CompletedTask;
    }

    /// <summary>What the last few seconds changed is written before the grain goes (a silo stopping gracefully).</summary>
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        TrainingMeter.Forget(SweepId);
        if (!dirty || R.Spec is null) return;
        try
        {
            await WriteAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log.LogDebug(e, "Sweep {Sweep}: state not written at deactivation; the next poll of its trials finds it again", SweepId);
        }
    }

    public async Task<SweepStatus> SubmitAsync(SweepSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        EnsureValidId();
        // Whatever a caller sent is checked field by field before it is compared, counted or expanded.
        var problems = SweepProblems.Of(spec);
        if (problems.Count > 0) throw new ArgumentException(OptionErrors.Describe(problems));
        if (R.Spec is not null)
        {
            if (!R.Spec.SameAs(spec)) throw new InvalidOperationException($"sweep {SweepId} already exists with another spec; submit under a new id");
            return Status();
        }
        var (trials, expansion) = SweepPlan.Expand(spec);
        problems.AddRange(expansion);
        problems.AddRange(trials.Select(t => training.LocalFileProblem(t.Spec.Data.TsvPath)).OfType<string>().Distinct().Take(5));
        // TPE proposes its configurations as it goes; what is known now is the base trial.
        var known = spec.Search.Method == SearchMethod.Tpe ? [new PlannedTrial(1, 1, [], 0, spec.BaseTrial)] : trials;
        // Trials differ in few options, so the distinct specs are few: each is checked against the silos' budgets once.
        if (problems.Count == 0)
            problems.AddRange(known.GroupBy(t => System.Text.Json.JsonSerializer.Serialize(t.Spec with { Schedule = t.Spec.Schedule with { Seed = 0 } }))
                .SelectMany(g => memory.Problems(g.First().Spec, $"trial {g.First().Number} ({Describe(g.First())})")).Take(5));
        if (problems.Count == 0)
            problems.AddRange((await datasets.MissingAsync(known.Select(t => t.Spec.Data.TsvPath)))
                .Select(d => $"data.tsvPath: {d} is not in the cluster's artifact store; `distributed submit` uploads the files a spec names"));
        if (problems.Count > 0) throw new ArgumentException(OptionErrors.Describe(problems));

        R.Spec = spec;
        R.State = SweepState.Running;
        R.CreatedAt = DateTimeOffset.UtcNow;
        // Set by the silo's ClientSurfaceFilter for a client's call; absent when the silo's own process submits.
        R.SubmittedBy = RequestContext.Get(Distributed.Grains.Abstractions.Caller.SubjectKey) as string ?? "local";
        R.Trials = spec.Search.Method == SearchMethod.Tpe ? Placeholders(spec) : trials.Select(t => new SweepTrial
        {
            Number = t.Number, TrialId = $"{SweepId}/{t.Number}", Configuration = t.Configuration, Factors = t.Factors,
            Repeat = t.Repeat, Seed = t.Spec.Schedule.Seed, State = TrialState.Queued, Steps = t.Spec.Schedule.Steps,
        }).ToList();
        if (spec.Search.Method == SearchMethod.Pbt)
            foreach (var t in trials) R.Values[t.Number] = t.Values;
        await WriteAsync();
        await GrainFactory.GetGrain<ISweepIndexGrain>(0).AddAsync(SweepId);
        await TickAsync(CancellationToken.None);
        Poll();
        return Status();
    }

    public Task<SweepStatus?> GetStatusAsync() => Task.FromResult(R.Spec is null ? null : Status());

    public async Task<SweepStatus?> CancelAsync()
    {
        if (R.Spec is null) return null;
        if (R.State != SweepState.Running) return Status();
        for (int i = 0; i < R.Trials.Count; i++)
        {
            var t = R.Trials[i];
            // A trial paused at an ASHA rung is cancelled too: nothing would ever promote it now.
            if (t.State is TrialState.Running or TrialState.Paused) R.Trials[i] = Merge(t, await Trial(t).CancelAsync());
            else if (t.State == TrialState.Queued) R.Trials[i] = t with { State = TrialState.Cancelled, Reason = "the sweep was cancelled before it started" };
        }
        await FinishAsync(SweepState.Cancelled);
        return Status();
    }

    public Task TrialChangedAsync(string trialId) => TickAsync(CancellationToken.None);

    public async Task<SweepDeletion> DeleteAsync(bool cancelFirst)
    {
        EnsureValidId();
        if (R.Spec is null) throw new ArgumentException($"no sweep '{SweepId}'");
        bool cancelled = false;
        if (R.State == SweepState.Running)
        {
            if (!cancelFirst) throw new InvalidOperationException($"sweep {SweepId} is running; cancel it first, or delete it with --cancel");
            await CancelAsync();
            cancelled = true;
        }
        // Trials and documents first, the record after them: a delete cut short is finished by deleting again.
        int artifacts = 0;
        foreach (var t in R.Trials) artifacts += await Trial(t).DeleteAsync();
        foreach (var path in await store.ListAsync(ArtifactPaths.Sweep(SweepId)))
        {
            await store.DeleteAsync(path);
            artifacts++;
        }
        var deletion = new SweepDeletion(SweepId, R.Trials.Count, artifacts, cancelled);
        await record.ClearStateAsync();
        record.State = new SweepRecord();
        // Nothing of the deleted sweep may leak into one submitted under the same id before this activation goes.
        (plan, curves, dirty) = (null, null, false);
        // An index entry without a record is harmless (list skips it); this one goes last.
        await GrainFactory.GetGrain<ISweepIndexGrain>(0).RemoveAsync(SweepId);
        DeactivateOnIdle();
        log.LogInformation("Sweep {Sweep} deleted: {Trials} trials, {Artifacts} artifacts", SweepId, deletion.Trials, artifacts);
        return deletion;
    }

    void Poll() => timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(PollEvery, PollEvery));

    ITrialGrain Trial(SweepTrial t) => GrainFactory.GetGrain<ITrialGrain>(t.TrialId);

    /// <summary>One look at every running trial, the stopping rule on their new evaluations, and new starts.</summary>
    async Task TickAsync(CancellationToken cancellation)
    {
        if (R.Spec is null || R.State != SweepState.Running) return;
        var spec = R.Spec;
        plan ??= Plan(spec);
        for (int i = 0; i < R.Trials.Count; i++)
        {
            var t = R.Trials[i];
            if (t.State != TrialState.Running) continue;
            try
            {
                var grain = Trial(t);
                long seen = R.Judged.GetValueOrDefault(t.Number);
                // Status first: once it says paused or ended, the evaluations read next hold every one before that.
                var status = await grain.GetStatusAsync();
                var evaluations = status.LastEvaluation is { } last && last.Step > seen ? await grain.GetEvaluationsAsync(seen) : [];
                foreach (var evaluation in evaluations.Where(e => e.Step > seen))
                {
                    double value = spec.Objective.Of(evaluation);
                    R.Judged[t.Number] = evaluation.Step;
                    // Kept at once with the step it belongs to, so a failed call below cannot separate them.
                    R.Trials[i] = t = t with { Best = t.Best is { } best && !spec.Objective.Better(value, best) ? best : value, Final = value };
                    dirty = true;
                    // Judged even when the trial has already finished: its values still set the rungs for the others.
                    // A confirmation trial runs to the end: no rule judges it.
                    if (!t.Confirmation && await JudgeAsync(t.Number, evaluation.Step, value) is { } reason && !status.IsFinished)
                        status = await grain.StopEarlyAsync(reason);
                }
                var merged = Merge(t, status);
                // Progress alone (step, loss, throughput) is not worth a write: the next poll finds it again.
                if (merged with { Step = R.Trials[i].Step, Loss = R.Trials[i].Loss, SamplesPerSecond = R.Trials[i].SamplesPerSecond } != R.Trials[i]) dirty = true;
                R.Trials[i] = merged;
            }
            catch (Exception e)
            {
                // A trial whose silo just went away answers again once it is reactivated; try next tick.
                log.LogWarning(e, "Sweep {Sweep}: could not reach trial {Trial}", SweepId, t.TrialId);
            }
        }

        if (spec.Search.Method == SearchMethod.Pbt) await PerturbAsync();
        var rule = spec.EarlyStopping;
        var rungs = rule.Rule == StoppingRule.Asha ? EarlyStoppingRules.Rungs(rule, spec.Schedule.Steps) : [];
        int running = R.Trials.Count(t => t.State == TrialState.Running);
        while (running < spec.MaxConcurrent)
        {
            // ASHA: promote a paused trial when one is in the top 1/η of its rung, else start a new one at the bottom.
            // Only when nothing at all runs or waits does the best paused trial go on regardless of η.
            bool idle = running == 0 && R.Trials.All(t => t.State != TrialState.Queued);
            if ((Promotable(rungs, false) ?? (idle ? Promotable(rungs, true) : null)) is var (index, rung))
            {
                long? next = rung + 1 < rungs.Count ? rungs[rung + 1] : null;
                R.Trials[index] = Merge(R.Trials[index], await Trial(R.Trials[index]).ResumeAsync(next));
            }
            else if (NextQueued(rungs.Count > 0) is var queued and >= 0)
            {
                var next = R.Trials[queued];
                if (spec.Search.Method == SearchMethod.Tpe && !next.Confirmation && !await ProposeUpToAsync(next.Configuration)) continue;
                // Same id, same spec: starting again after a restart returns the trial that already exists.
                long? pauseAt = spec.Search.Method == SearchMethod.Pbt ? PopulationBasedTraining.PauseAfter(spec, 0)
                    : rungs.Count > 0 && !next.Confirmation ? rungs[0] : null;
                var status = await Trial(next).StartInSweepAsync(plan[queued].Spec, SweepId, pauseAt, holdAtPause: spec.Search.Method == SearchMethod.Pbt);
                R.Trials[queued] = Merge(R.Trials[queued], status);
            }
            else
            {
                break;
            }
            running++;
            dirty = true;
        }
        // Nothing left to run or promote: the trials still paused at a rung were not good enough to go on.
        if (rungs.Count > 0 && running == 0 && R.Trials.All(t => t.State != TrialState.Queued) && Promotable(rungs, true) is null)
            for (int i = 0; i < R.Trials.Count; i++)
                if (R.Trials[i].State == TrialState.Paused)
                {
                    var reason = $"ASHA: {spec.Objective.Metric} {R.Trials[i].Final:G4} at step {R.Trials[i].Step} was not in the top 1/{rule.ReductionFactor} of its rung";
                    R.Trials[i] = Merge(R.Trials[i], await Trial(R.Trials[i]).StopEarlyAsync(reason));
                    dirty = true;
                }

        PublishTrialCounts();
        if (R.Trials.All(t => t.IsFinished) && spec.Confirm is not null && !R.Trials.Any(t => t.Confirmation) && await ConfirmAsync()) return;
        if (R.Trials.All(t => t.IsFinished)) await FinishAsync(SweepState.Completed);
        else if (dirty && DateTime.UtcNow - lastWrite >= WriteEvery) await WriteAsync();
    }

    /// <summary>The silo's gauge of this sweep's trials waiting for a slot, running and paused (what autoscaling reads).</summary>
    void PublishTrialCounts() => TrainingMeter.Publish(SweepId, new Dictionary<string, int>
    {
        ["queued"] = R.Trials.Count(t => t.State == TrialState.Queued),
        ["running"] = R.Trials.Count(t => t.State == TrialState.Running),
        ["paused"] = R.Trials.Count(t => t.State == TrialState.Paused),
    });

    /// <summary>
    /// PBT: once every member still training is paused at a perturbation step, decides (once, recorded before
    /// anything is done) who copies whom with which explored values; then the copying members take their sources'
    /// state and go on, and after them the rest go on unchanged, so no source moves before it was copied. After a
    /// restart the recorded decision is carried out where it stopped.
    /// </summary>
    async Task PerturbAsync()
    {
        var spec = R.Spec!;
        var live = R.Trials.Where(t => !t.IsFinished).ToList();
        var paused = live.Where(t => t.State == TrialState.Paused).ToList();
        if (paused.Count == 0) return;
        long step = paused.Min(t => t.Step);
        int generation = PopulationBasedTraining.GenerationAt(spec, step);
        if (generation == 0) return;
        if (R.Generation < generation)
        {
            // Members are ranked together: wait for the whole population to reach the step.
            if (live.Any(t => t.State != TrialState.Paused || t.Step != step)) return;
            var members = live.Select(t => new PbtMember(t.Number, t.Final ?? double.NaN, R.Values[t.Number])).ToList();
            var exploits = PopulationBasedTraining.Perturb(spec, generation, step, members);
            R.Exploits.AddRange(exploits);
            R.Generation = generation;
            foreach (var e in exploits) R.Values[e.Trial] = e.Values;
            await WriteAsync();
            log.LogInformation("Sweep {Sweep}: perturbation {Generation} at step {Step}: {Exploits}", SweepId, generation, step,
                string.Join("; ", exploits.Select(e => $"{e.Trial} copies {e.From}")));
        }
        long? next = PopulationBasedTraining.PauseAfter(spec, step);
        foreach (var e in R.Exploits.Where(e => e.Generation == generation))
        {
            int i = R.Trials.FindIndex(t => t.Number == e.Trial);
            var t = R.Trials[i];
            if (t.State != TrialState.Paused || t.Step != step) continue;
            var (trialSpec, _) = PopulationBasedTraining.Configure(spec, e.Values, t.Seed);
            var from = R.Trials.First(m => m.Number == e.From);
            var status = await Trial(t).ExploitAsync(new TrialExploit(from.TrialId, step, trialSpec, next));
            R.Trials[i] = Merge(t with { Factors = PopulationBasedTraining.Factors(spec, e.Values) }, status);
            dirty = true;
        }
        for (int i = 0; i < R.Trials.Count; i++)
        {
            var t = R.Trials[i];
            if (t.State != TrialState.Paused || t.Step != step) continue;
            // A source goes on only once its copiers hold its state (their own checkpoint at the step): its replicas hand it over.
            if (R.Exploits.Any(e => e.Generation == generation && e.From == t.Number && !Copied(e))) continue;
            R.Trials[i] = Merge(t, await Trial(t).ResumeAsync(next));
            dirty = true;
        }
    }

    /// <summary>True once an exploit's copier saved the state it took as its own checkpoint (or ended).</summary>
    bool Copied(PbtExploit e) => R.Trials.First(t => t.Number == e.Trial) is var copier
        && (copier.IsFinished || copier.CheckpointPath == ArtifactPaths.Checkpoint(copier.TrialId, e.Step) && copier.State == TrialState.Running || copier.Step > e.Step);

    /// <summary>
    /// Every trial's spec, by index: the search's expansion, then the confirmation trials (their configuration's spec
    /// with their own seed), rebuilt from the record after a restart.
    /// </summary>
    List<PlannedTrial> Plan(SweepSpec spec)
    {
        var planned = SweepPlan.Expand(spec, R.Proposals).Trials.ToList();
        planned.AddRange(R.Trials.Where(t => t.Confirmation).Select(t => Confirming(planned, t)).ToList());
        return planned;
    }

    /// <summary>A confirmation trial's plan: its configuration's search spec with its own seed.</summary>
    static PlannedTrial Confirming(IReadOnlyList<PlannedTrial> search, SweepTrial t)
    {
        var planned = search.First(p => p.Configuration == t.Configuration);
        return planned with { Number = t.Number, Repeat = t.Repeat, Spec = planned.Spec with { Schedule = planned.Spec.Schedule with { Seed = t.Seed } } };
    }

    /// <summary>The search is over: its top configurations go again with fresh seeds. False when there is nothing to confirm.</summary>
    async Task<bool> ConfirmAsync()
    {
        var confirming = Confirmation.Plan(R.Spec!, SweepId, R.Trials);
        if (confirming.Count == 0) return false;
        R.Trials.AddRange(confirming);
        // The search's plan stands; only the new trials are added to it.
        plan = [.. plan!, .. confirming.Select(t => Confirming(plan!, t))];
        await WriteAsync();
        log.LogInformation("Sweep {Sweep}: search done; confirming configurations {Configurations} with {Seeds} fresh seeds each", SweepId,
            string.Join(", ", confirming.Select(t => t.Configuration).Distinct()), R.Spec!.Confirm!.Seeds);
        await TickAsync(CancellationToken.None);
        return true;
    }

    /// <summary>TPE's trials before their configurations are proposed: numbered, seeded, with no factor values yet.</summary>
    List<SweepTrial> Placeholders(SweepSpec spec) =>
        Enumerable.Range(0, spec.Search.Samples * spec.Repeats).Select(i => new SweepTrial
        {
            Number = i + 1, TrialId = $"{SweepId}/{i + 1}", Configuration = i / spec.Repeats + 1, Factors = [],
            Repeat = i % spec.Repeats, Seed = spec.Schedule.Seed + (ulong)(i % spec.Repeats), State = TrialState.Queued, Steps = spec.Schedule.Steps,
        }).ToList();

    /// <summary>
    /// TPE: proposes configurations until <paramref name="configuration"/> has one, recording each before any of its
    /// trials starts (a restarted sweep goes on from there). A proposal the options refuse (say, dot attention with a
    /// bidirectional encoder) is drawn again; after ten tries its trials fail with the reason. False when they did.
    /// </summary>
    async Task<bool> ProposeUpToAsync(int configuration)
    {
        var spec = R.Spec!;
        while (R.Proposals.Count < configuration)
        {
            IReadOnlyList<string> proposal = [];
            IReadOnlyList<string> errors = [];
            IReadOnlyList<PlannedTrial> added = [];
            for (int attempt = 0; attempt < 10; attempt++)
            {
                proposal = TpeSearch.Propose(spec, R.Proposals, R.Trials, attempt);
                // Only the new configuration is expanded: the earlier ones are in the plan already.
                (added, errors) = SweepPlan.Expand(spec, [proposal]);
                if (errors.Count == 0) break;
            }
            R.Proposals.Add(proposal);
            int proposed = R.Proposals.Count;
            plan = [.. plan!, .. added.Select(t => t with { Number = plan!.Count + t.Number, Configuration = proposed })];
            var factors = added[0].Factors;
            for (int i = 0; i < R.Trials.Count; i++)
                if (R.Trials[i].Configuration == proposed)
                    R.Trials[i] = errors.Count == 0 ? R.Trials[i] with { Factors = factors }
                        : R.Trials[i] with { Factors = factors, State = TrialState.Failed, Reason = $"TPE proposed no valid configuration in 10 tries: {errors[0]}" };
            await WriteAsync();
        }
        return R.Trials.First(t => t.Configuration == configuration).State == TrialState.Queued;
    }

    async Task WriteAsync()
    {
        await record.WriteStateAsync();
        dirty = false;
        lastWrite = DateTime.UtcNow;
    }

    /// <summary>The stopping rule's verdict on a new evaluation: null to go on, else why the trial stops.</summary>
    async Task<string?> JudgeAsync(int trial, long step, double value)
    {
        var spec = R.Spec!;
        var rule = spec.EarlyStopping;
        switch (rule.Rule)
        {
            case StoppingRule.Asha:
                // Promotion, not stopping: record the value at each rung the trial reached; the scheduler does the rest.
                EarlyStoppingRules.RecordAtRungs(R.Rungs, EarlyStoppingRules.Rungs(rule, spec.Schedule.Steps), trial, step, value);
                return null;
            case StoppingRule.Median:
                var history = await CurvesAsync(trial);
                history.Add(new TrialPoint(trial, step, value));
                return EarlyStoppingRules.MedianStops(trial, step, history, rule, spec.Objective)
                    ? $"median rule: best {spec.Objective.Metric} so far is worse than the median of the other trials at step {step}"
                    : null;
            default:
                return null;
        }
    }

    /// <summary>
    /// Every evaluation the rule judged so far, of every trial but the new one of <paramref name="judging"/>: read from
    /// the trials (their records and sealed segments) on the first judgement of an activation, kept in memory after.
    /// </summary>
    async Task<List<TrialPoint>> CurvesAsync(int judging)
    {
        if (curves is not null) return curves;
        var objective = R.Spec!.Objective;
        var read = new List<TrialPoint>();
        foreach (var t in R.Trials)
        {
            // The new evaluation being judged is not in the rule's view yet: the caller adds it.
            long upTo = R.Judged.GetValueOrDefault(t.Number) - (t.Number == judging ? 1 : 0);
            if (upTo <= 0) continue;
            foreach (var e in await Trial(t).GetEvaluationsAsync(-1))
                if (e.Step <= upTo) read.Add(new TrialPoint(t.Number, e.Step, objective.Of(e)));
        }
        return curves = read;
    }

    int NextQueued(bool shuffled) => EarlyStoppingRules.NextQueued(R.Trials, shuffled, R.Spec!.Search.Seed);

    (int Index, int Rung)? Promotable(IReadOnlyList<long> rungs, bool atLeastOne) =>
        EarlyStoppingRules.Promotable(rungs, R.Rungs, R.Trials, R.Spec!.EarlyStopping.ReductionFactor, R.Spec.Objective, atLeastOne);

    /// <summary>The trial as its status says it is now; its best and final objective are the sweep's own, from what it judged.</summary>
    SweepTrial Merge(SweepTrial t, TrialStatus status) => t with
    {
        Test = status.Test is { } test ? R.Spec!.Objective.Of(test.AsValidated) : t.Test,
        State = status.State == TrialState.Queued && t.State == TrialState.Running ? t.State : status.State,
        Step = status.Step,
        Reason = status.Reason,
        CheckpointPath = status.CheckpointPath,
        StartedAt = status.StartedAt ?? t.StartedAt,
        EndedAt = status.EndedAt,
        Loss = status.LastStep?.Loss ?? t.Loss,
        SamplesPerSecond = status.LastStep?.SamplesPerSecond ?? t.SamplesPerSecond,
    };

    async Task FinishAsync(SweepState state)
    {
        TrainingMeter.Forget(SweepId);
        var ended = DateTimeOffset.UtcNow;
        // Documents first: status reads interleave, and one that says finished must find them written.
        await ResultDocuments.WriteSweepAsync(store, GrainFactory, Status() with { State = state, EndedAt = ended }, log);
        durableState = R.State;
        R.State = state;
        R.EndedAt = ended;
        try
        {
            await WriteAsync();
        }
        finally
        {
            durableState = null;
        }
        timer?.Dispose();
        timer = null;
        await GrainFactory.GetGrain<ISweepIndexGrain>(0).FinishedAsync(SweepId);
        log.LogInformation("Sweep {Sweep} {State}", SweepId, state);
    }

    SweepStatus Status() => new()
    {
        SweepId = SweepId,
        Spec = R.Spec!,
        State = durableState ?? R.State,
        Trials = R.Trials.ToList(),
        CreatedAt = R.CreatedAt,
        EndedAt = durableState is null ? R.EndedAt : null,
        StepsRun = R.Trials.Sum(t => t.Step),
        StepsPlanned = R.Trials.Sum(t => t.Steps),
        Generation = R.Spec!.Search.Method == SearchMethod.Pbt ? R.Generation : R.Proposals.Count,
        Exploits = R.Exploits.ToList(),
        SubmittedBy = R.SubmittedBy,
    };
}
