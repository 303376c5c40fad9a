namespace Distributed.Grains.Abstractions.Sweeps;

/// <summary>One trial's objective at one evaluation step.</summary>
[GenerateSerializer, Immutable, Alias("TrialPoint")]
public readonly record struct TrialPoint([property: Id(0)] int Trial, [property: Id(1)] long Step, [property: Id(2)] double Value);

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
    /// ASHA's promotion test (Li et al. 2020, algorithm 2): of the trials that reached a rung, the best
    /// floor(n / η) may go on to the next one. Returns those trials, best first; none until η have reached it.
    /// With <paramref name="atLeastOne"/> (a finite sweep with nothing else left to run) the best one always may.
    /// </summary>
    public static IReadOnlyList<int> AshaTop(IReadOnlyList<KeyValuePair<int, double>> recorded, int reductionFactor, Objective objective, bool atLeastOne = false)
    {
        int top = Math.Max(recorded.Count / reductionFactor, atLeastOne ? 1 : 0);
        var ranked = objective.Direction == ObjectiveMode.Max
            ? recorded.OrderByDescending(p => p.Value)
            : recorded.OrderBy(p => p.Value);
        // Ties go to the trial that got there first, as the rung's arrival order is the only other thing known.
        return ranked.ThenBy(p => recorded.ToList().IndexOf(p)).Take(top).Select(p => p.Key).ToList();
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
