using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;

namespace Distributed.Sweeps;


/// <summary>
/// The early-stopping decisions, as pure functions of what the trials reported, so they can be checked by hand.
/// </summary>
public static class EarlyStoppingRules
{
    /// <summary>ASHA's rungs: grace × η^k steps, below the trial length (which is the last rung).</summary>
    public static IReadOnlyList<long> Rungs(EarlyStopping rule, long steps)
    {
        var rungs = new List<long>();
        for (long r = rule.GracePeriod; r < steps; r *= rule.ReductionFactor) rungs.Add(r);
        return rungs;
    }

    /// <summary>
    /// Steps a sweep of <paramref name="trials"/> trials of <paramref name="steps"/> steps is expected to run: with
    /// ASHA, all of them up to the first rung, then about 1/η as many up to each next one (at least the best one);
    /// without it, every trial to the end. What the watch's ETA is based on.
    /// </summary>
    public static long ExpectedSteps(EarlyStopping rule, int trials, long steps)
    {
        if (rule.Rule != StoppingRule.Asha) return trials * steps;
        long total = 0, from = 0;
        double reaching = trials;
        foreach (var to in Rungs(rule, steps).Append(steps))
        {
            total += (long)Math.Max(1, Math.Floor(reaching)) * (to - from);
            reaching /= rule.ReductionFactor;
            from = to;
        }
        return total;
    }

    /// <summary>
    /// Steps a sweep still has to run, what its ETA is based on. Under ASHA most trials stop at a rung: the remaining
    /// work is what the rule is expected to run (<see cref="ExpectedSteps"/>), not every trial's full length, and never
    /// less than the running trials need to reach their next rung. Otherwise every unfinished trial to its end.
    /// </summary>
    public static long RemainingSteps(EarlyStopping rule, IReadOnlyList<SweepTrial> trials, long steps)
    {
        if (rule.Rule != StoppingRule.Asha) return trials.Where(t => !t.IsFinished).Sum(t => t.Steps - t.Step);
        long toNextRung = trials.Where(t => t.State == TrialState.Running)
            .Sum(t => Rungs(rule, t.Steps).Append(t.Steps).Where(r => r > t.Step).DefaultIfEmpty(t.Step).First() - t.Step);
        return Math.Max(ExpectedSteps(rule, trials.Count, steps) - trials.Sum(t => t.Step), toNextRung);
    }

    /// <summary>
    /// ASHA's promotion test (Li et al. 2020, algorithm 2): of the trials that reached a rung, the best
    /// floor(n / η) may go on to the next one. Returns those trials, best first; none until η have reached it.
    /// With <paramref name="atLeastOne"/> (a finite sweep with nothing else left to run) the best one always may.
    /// </summary>
    public static IReadOnlyList<int> AshaTop(IReadOnlyList<KeyValuePair<int, double>> recorded, int reductionFactor, Objective objective, bool atLeastOne = false)
    {
        int top = Math.Max(recorded.Count / reductionFactor, atLeastOne ? 1 : 0);
        var arrivals = recorded.Select((p, order) => (p.Key, p.Value, Order: order));
        var ranked = objective.Direction == ObjectiveMode.Max
            ? arrivals.OrderByDescending(p => p.Value)
            : arrivals.OrderBy(p => p.Value);
        // Ties go to the trial that got there first, as the rung's arrival order is the only other thing known.
        return ranked.ThenBy(p => p.Order).Take(top).Select(p => p.Key).ToList();
    }

    /// <summary>
    /// Records a trial's evaluation at every rung it has reached and has no value at yet: a rung's value is the first
    /// evaluation at or after it.
    /// </summary>
    public static void RecordAtRungs(IDictionary<long, List<KeyValuePair<int, double>>> recorded, IReadOnlyList<long> rungs, int trial, long step, double value)
    {
        foreach (var rung in rungs)
        {
            if (step < rung) break;
            var list = recorded.TryGetValue(rung, out var found) ? found : recorded[rung] = [];
            if (list.All(p => p.Key != trial)) list.Add(new(trial, value));
        }
    }

    /// <summary>A paused trial (index, rung number) that ASHA may promote now, the best of the highest rung first.</summary>
    public static (int Index, int Rung)? Promotable(IReadOnlyList<long> rungs, IReadOnlyDictionary<long, List<KeyValuePair<int, double>>> recorded,
        IReadOnlyList<SweepTrial> trials, int reductionFactor, Objective objective, bool atLeastOne)
    {
        Dictionary<int, int>? indexOf = null;
        for (int k = rungs.Count - 1; k >= 0; k--)
        {
            if (!recorded.TryGetValue(rungs[k], out var values)) continue;
            foreach (var number in AshaTop(values, reductionFactor, objective, atLeastOne))
            {
                indexOf ??= trials.Select((t, i) => (t.Number, i)).ToDictionary(p => p.Number, p => p.i);
                if (indexOf.TryGetValue(number, out int index) && trials[index].State == TrialState.Paused && trials[index].Step == rungs[k]) return (index, k);
            }
        }
        return null;
    }

    /// <summary>
    /// The next trial to start (its index, or -1): in grid order, or for ASHA in a shuffle seeded with the search's
    /// seed, so that the first trials at a rung are a fair sample of the space rather than its first corner (async
    /// promotion favours early arrivals).
    /// </summary>
    public static int NextQueued(IReadOnlyList<SweepTrial> trials, bool shuffled, ulong seed)
    {
        if (!shuffled) return trials.ToList().FindIndex(t => t.State == TrialState.Queued);
        var order = Enumerable.Range(0, trials.Count).ToArray();
        new Random(unchecked((int)seed)).Shuffle(order);
        return order.Where(i => trials[i].State == TrialState.Queued).DefaultIfEmpty(-1).First();
    }

    /// <summary>
    /// The median stopping rule (Golovin et al. 2017): after the grace period, a trial is stopped when its best value
    /// so far is worse than the median of the other trials' best values up to the same step, once at least
    /// <see cref="EarlyStopping.MinTrials"/> others have reached that step.
    /// </summary>
    public static bool MedianStops(int trial, long step, IReadOnlyList<TrialPoint> history, EarlyStopping rule, Objective objective)
    {
        if (step < rule.GracePeriod) return false;
        var mine = history.Where(p => p.Trial == trial && p.Step <= step).Select(p => p.Value).ToList();
        if (mine.Count == 0) return false;
        var others = history.Where(p => p.Trial != trial).GroupBy(p => p.Trial)
            .Where(g => g.Any(p => p.Step >= step))
            .Select(g => Best(g.Where(p => p.Step <= step).Select(p => p.Value).ToList(), objective))
            .Where(v => v is not null).Select(v => v!.Value).ToList();
        if (others.Count < rule.MinTrials) return false;
        double median = Percentile(others, 50);
        double best = Best(mine, objective)!.Value;
        return objective.Better(median, best);
    }

    static double? Best(List<double> values, Objective objective) =>
        values.Count == 0 ? null : objective.Direction == ObjectiveMode.Max ? values.Max() : values.Min();

    /// <summary>The q-th percentile with linear interpolation between order statistics (numpy's default).</summary>
    public static double Percentile(IReadOnlyList<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        double rank = q / 100 * (sorted.Length - 1);
        int low = (int)Math.Floor(rank), high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }
}
