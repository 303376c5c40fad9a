using Distributed.Grains.Abstractions.Sweeps;
using System.Globalization;

namespace Distributed.Sweeps;

/// <summary>One finished trial as the statistics see it: its factor values, which seed (repeat) it was, and its objective.</summary>
public sealed record Observation(IReadOnlyList<FactorValue> Factors, int Repeat, double Value)
{
    public string ValueOf(string factor) => Factors.First(f => f.Factor == factor).Value;

    /// <summary>Everything but <paramref name="factor"/>: trials with the same key differ only in that factor.</summary>
    public string KeyWithout(string factor) =>
        string.Join("\u001f", Factors.Where(f => f.Factor != factor).Select(f => $"{f.Factor}={f.Value}")) + $"\u001frepeat={Repeat}";
}

/// <summary>
/// What changing one factor from <see cref="Baseline"/> to <see cref="Other"/> did, estimated only from trials that
/// differ in that factor alone (same other factors, same seed): the mean of the paired differences (other minus
/// baseline) with a 95% interval from Student's t on those differences, kept inside what the metric can differ by.
/// </summary>
public sealed record PairedEffect(string Factor, string Baseline, string Other, int Pairs, double Mean, double Low, double High)
{
    /// <summary>A plain sentence: "additive better than none by 0.23 [0.18, 0.29], 8 pairs", or that the interval covers 0.</summary>
    public string Verdict(Objective objective)
    {
        // A tiny negative reads "-0" otherwise; 0.001 is the finest step a verdict shows.
        string Number(double v) => (Math.Round(v, 3) + 0.0 == 0 ? 0 : v).ToString("0.###", CultureInfo.InvariantCulture);
        var interval = Pairs >= 2 ? $"[{Number(Low)}, {Number(High)}]" : "(one pair: no interval)";
        var pairs = $"{Pairs} pair{(Pairs == 1 ? "" : "s")}";
        if (Pairs < 2 || (Low <= 0 && High >= 0))
            return $"no clear difference between {Other} and {Baseline}: {Number(Mean)} {interval}, {pairs}";
        bool otherBetter = objective.Direction == ObjectiveMode.Max ? Mean > 0 : Mean < 0;
        var (better, worse) = otherBetter ? (Other, Baseline) : (Baseline, Other);
        // The bounds read as "by how much the better one is better", so for the other way round they swap and flip.
        var (low, high) = otherBetter == (objective.Direction == ObjectiveMode.Max) ? (Low, High) : (-High, -Low);
        return $"{better} better than {worse} by {Number(Math.Abs(Mean))} [{Number(low)}, {Number(high)}], {pairs}";
    }
}

/// <summary>Paired effects of a factor: every pair of its values, in the order the values first appear.</summary>
public static class PairedEffects
{
    public static IReadOnlyList<PairedEffect> Of(IReadOnlyList<Observation> trials, string factor, MetricRange range)
    {
        var levels = trials.Select(t => t.ValueOf(factor)).Distinct().ToList();
        // One value per level and key: a configuration drawn twice at the same seed counts once, as its mean.
        var cells = trials.GroupBy(t => t.KeyWithout(factor))
            .Select(g => g.GroupBy(t => t.ValueOf(factor)).ToDictionary(l => l.Key, l => l.Average(t => t.Value)))
            .ToList();
        var effects = new List<PairedEffect>();
        for (int a = 0; a < levels.Count; a++)
            for (int b = a + 1; b < levels.Count; b++)
            {
                var differences = cells.Where(c => c.ContainsKey(levels[a]) && c.ContainsKey(levels[b]))
                    .Select(c => c[levels[b]] - c[levels[a]]).ToList();
                if (differences.Count == 0) continue;
                var ci = MeanInterval.Of(differences).Within(-range.Span, range.Span);
                effects.Add(new PairedEffect(factor, levels[a], levels[b], differences.Count, ci.Mean, ci.Low, ci.High));
            }
        return effects;
    }
}

/// <summary>What values a metric can take: intervals for it are kept inside, and differences inside ± its span.</summary>
public sealed record MetricRange(double Min, double Max)
{
    public double Span => Max - Min;

    public static MetricRange Of(ObjectiveMetric metric) => metric switch
    {
        ObjectiveMetric.ExactMatch or ObjectiveMetric.TokenAccuracy => new(0, 1),
        ObjectiveMetric.Bleu => new(0, 100),
        ObjectiveMetric.Perplexity => new(1, double.PositiveInfinity),
        _ => new(0, double.PositiveInfinity),
    };
}
