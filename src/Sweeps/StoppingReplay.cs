using Distributed.Grains.Abstractions.Sweeps;
using System.Globalization;
using Distributed.Grains.Abstractions.Training;

namespace Distributed.Sweeps;

/// <summary>One trial under a replayed rule: the steps it ran in the recording and would have run under the rule.</summary>
public sealed record ReplayedTrial(int Number, IReadOnlyList<FactorValue> Factors, long RecordedSteps, long ReplayedSteps, TrialState Recorded, TrialState Replayed);

/// <summary>
/// What a stopping rule would have done to a recorded sweep, and whether it would have kept its winner to the end
/// (or, when several trials tie for the best objective, one of them).
/// </summary>
public sealed record ReplayResult(
    string Rule, long RecordedSteps, long ReplayedSteps, long FullSteps, int? Winner, bool WinnerKept, IReadOnlyList<ReplayedTrial> Trials, string Verdict)
{
    /// <summary>Share of the full-length sweep's steps the rule would have saved.</summary>
    public double Saved => FullSteps == 0 ? 0 : 1 - (double)ReplayedSteps / FullSteps;
}

/// <summary>
/// Replays a finished sweep's recorded learning curves through a stopping rule, as the sweep grain would have
/// applied it: the same start order, at most maxConcurrent trials at once advancing one step each per tick, the same
/// ASHA rungs and promotions (<see cref="EarlyStoppingRules"/>) and median rule. Exact with maxConcurrent 1; with more,
/// it assumes every trial steps at the same pace. Confirmation trials are left out.
/// </summary>
public static class StoppingReplay
{
    /// <summary>
    /// The replay of <paramref name="sweep"/> under <paramref name="rule"/>, from every search trial's evaluations by
    /// trial number. Throws <see cref="ArgumentException"/> when the rule would run a trial past the end of its
    /// recording (a trial the sweep stopped early), naming it.
    /// </summary>
    public static ReplayResult Run(SweepStatus sweep, IReadOnlyDictionary<int, IReadOnlyList<EvaluationMetrics>> curves, EarlyStopping rule)
    {
        var spec = sweep.Spec;
        var objective = spec.Objective;
        var recorded = sweep.Trials.Where(t => !t.Confirmation).ToList();
        var trials = recorded.Select(t => t with { State = TrialState.Queued, Step = 0 }).ToList();
        var values = recorded.ToDictionary(t => t.Number, t => (curves.GetValueOrDefault(t.Number) ?? [])
            .Select(e => (e.Step, Value: objective.Of(e))).OrderBy(e => e.Step).ToList());
        var rungs = rule.Rule == StoppingRule.Asha ? EarlyStoppingRules.Rungs(rule, spec.Schedule.Steps) : [];
        var atRungs = new Dictionary<long, List<KeyValuePair<int, double>>>();
        var history = new List<TrialPoint>();
        var limit = new long?[trials.Count];

        long Next(int i)
        {
            var t = trials[i];
            long end = limit[i] ?? t.Steps;
            var evaluation = values[t.Number].FirstOrDefault(e => e.Step > t.Step);
            long next = evaluation.Step > 0 ? Math.Min(evaluation.Step, end) : end;
            return Math.Min(next, Math.Max(recorded[i].Step, t.Step));
        }

        while (true)
        {
            // The grain's fill: promote at the highest rung first, else start the next queued trial, up to maxConcurrent.
            int running = trials.Count(t => t.State == TrialState.Running);
            while (running < spec.MaxConcurrent)
            {
                bool idle = running == 0 && trials.All(t => t.State != TrialState.Queued);
                if ((Promote(false) ?? (idle ? Promote(true) : null)) is var (index, rung))
                {
                    limit[index] = rung + 1 < rungs.Count ? rungs[rung + 1] : null;
                    trials[index] = trials[index] with { State = TrialState.Running };
                }
                else if (EarlyStoppingRules.NextQueued(trials, rungs.Count > 0, spec.Search.Seed) is var queued and >= 0)
                {
                    limit[queued] = rungs.Count > 0 ? rungs[0] : null;
                    trials[queued] = trials[queued] with { State = TrialState.Running };
                }
                else break;
                running++;
            }
            if (running == 0)
            {
                for (int i = 0; i < trials.Count; i++)
                    if (trials[i].State == TrialState.Paused) trials[i] = trials[i] with { State = TrialState.StoppedEarly };
                break;
            }

            // Every running trial advances to the soonest event among them: an evaluation, a rung, the end.
            var active = Enumerable.Range(0, trials.Count).Where(i => trials[i].State == TrialState.Running).ToList();
            long delta = active.Min(i => Next(i) - trials[i].Step);
            foreach (int i in active)
            {
                long target = Next(i);
                var t = trials[i] = trials[i] with { Step = trials[i].Step + delta };
                if (t.Step < target) continue;
                var evaluation = values[t.Number].FirstOrDefault(e => e.Step == t.Step);
                bool stopped = false;
                if (evaluation.Step > 0)
                {
                    history.Add(new TrialPoint(t.Number, t.Step, evaluation.Value));
                    if (rule.Rule == StoppingRule.Asha) EarlyStoppingRules.RecordAtRungs(atRungs, rungs, t.Number, t.Step, evaluation.Value);
                    stopped = rule.Rule == StoppingRule.Median && EarlyStoppingRules.MedianStops(t.Number, t.Step, history, rule, objective);
                }
                long end = limit[i] ?? t.Steps;
                var state = stopped ? TrialState.StoppedEarly
                    : t.Step >= t.Steps ? TrialState.Completed
                    : t.Step >= end ? TrialState.Paused
                    : t.Step < recorded[i].Step ? TrialState.Running
                    : recorded[i].State is TrialState.Diverged or TrialState.Failed ? recorded[i].State
                    : throw new ArgumentException(
                        $"trial {t.Number} ran {recorded[i].Step} of {t.Steps} steps in sweep {sweep.SweepId} ({Name(recorded[i].State)}); the rule would run it further. " +
                        "Replay needs the learning curves of a sweep that ran its trials to the end (no stopping rule, or this same rule)");
                trials[i] = t with { State = state };
            }
        }

        (int Index, int Rung)? Promote(bool atLeastOne) =>
            EarlyStoppingRules.Promotable(rungs, atRungs, trials, rule.ReductionFactor, objective, atLeastOne);

        var replayed = recorded.Select((t, i) => new ReplayedTrial(t.Number, t.Factors, t.Step, trials[i].Step, t.State, trials[i].State)).ToList();
        var winner = SweepReport.Leaderboard(sweep with { Trials = recorded }, 1).FirstOrDefault();
        // Trials that tie the winner's objective are as good a pick: keeping one of them keeps the winner's result.
        var equals = winner is null ? [] : recorded.Where(t => t.Best == winner.Best).Select(t => t.Number).ToHashSet();
        var keptEquals = replayed.Where(r => equals.Contains(r.Number) && r.Replayed == TrialState.Completed).ToList();
        bool kept = keptEquals.Count > 0;
        long full = recorded.Sum(t => t.Steps), replayedSteps = replayed.Sum(r => r.ReplayedSteps), recordedSteps = recorded.Sum(t => t.Step);
        string name = rule.Rule switch
        {
            StoppingRule.Asha => $"ASHA (grace {rule.GracePeriod}, eta {rule.ReductionFactor})",
            StoppingRule.Median => $"the median rule (grace {rule.GracePeriod}, min trials {rule.MinTrials})",
            _ => "no stopping rule",
        };
        string share = (100 * (1 - (double)replayedSteps / Math.Max(1, full))).ToString("0.0", CultureInfo.InvariantCulture) + "%";
        string verdict = $"{name} would have run {replayedSteps} of the {full} steps of every trial to the end (saving {share})" +
            (winner is null ? "; the sweep has no winner to keep"
             : keptEquals.Any(r => r.Number == winner.Number) ? $"; it would have kept the eventual winner, trial {winner.Number}, to the end"
             : kept ? $"; it would have stopped the eventual winner, trial {winner.Number}, at step {replayed.First(r => r.Number == winner.Number).ReplayedSteps}, " +
                      $"but kept {keptEquals.Count} that tie it ({winner.Best:G4}) to the end: trial {string.Join(", ", keptEquals.Take(5).Select(r => r.Number))}{(keptEquals.Count > 5 ? ", ..." : "")}"
             : $"; it would have stopped the eventual winner, trial {winner.Number}, at step {replayed.First(r => r.Number == winner.Number).ReplayedSteps}, and every trial that ties it");
        return new ReplayResult(name, recordedSteps, replayedSteps, full, winner?.Number, kept, replayed, verdict);
    }

    static string Name(TrialState state) => SweepReport.Name(state);
}
