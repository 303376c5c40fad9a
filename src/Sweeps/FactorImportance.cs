using Distributed.Grains.Abstractions.Sweeps;
using System.Globalization;

namespace Distributed.Sweeps;

/// <summary>A factor's share of the objective's variation, with a 95% bootstrap interval over the trials.</summary>
public sealed record Importance(string Factor, double Share, double Low, double High);

/// <summary>
/// How much of the objective's variance each factor explains on its own: the variance of the objective's mean per
/// value of the factor (weighted by trials) over the total variance, fANOVA's main effect for discrete factors
/// (Hutter et al. 2014). Numeric factors with many values (random search) are grouped into quartiles first.
/// Intervals come from resampling the trials with replacement (seeded, so a report reads the same every time).
/// </summary>
public static class FactorImportance
{
    const int Resamples = 1000, MaxLevels = 6;

    public static IReadOnlyList<Importance> Of(IReadOnlyList<Observation> trials, IReadOnlyList<string> factors, int seed = 1)
    {
        if (trials.Count < 2) return [];
        var levels = factors.ToDictionary(f => f, f => LevelsOf(trials, f));
        var random = new Random(seed);
        var resampled = factors.ToDictionary(f => f, _ => new List<double>());
        var indices = new int[trials.Count];
        for (int r = 0; r < Resamples; r++)
        {
            for (int i = 0; i < indices.Length; i++) indices[i] = random.Next(trials.Count);
            foreach (var f in factors) resampled[f].Add(Share(indices, trials, levels[f]));
        }
        var all = Enumerable.Range(0, trials.Count).ToArray();
        return factors.Select(f =>
            {
                var shares = resampled[f].Order().ToList();
                return new Importance(f, Share(all, trials, levels[f]), shares[(int)(0.025 * Resamples)], shares[(int)(0.975 * Resamples) - 1]);
            })
            .OrderByDescending(i => i.Share).ToList();
    }

    /// <summary>The level of each trial for one factor: its value, or its quartile when it is numeric with many values.</summary>
    static string[] LevelsOf(IReadOnlyList<Observation> trials, string factor)
    {
        var values = trials.Select(t => t.ValueOf(factor)).ToArray();
        var numbers = values.Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : double.NaN).ToArray();
        if (values.Distinct().Count() <= MaxLevels || numbers.Any(double.IsNaN)) return values;
        var sorted = numbers.Order().ToArray();
        double Quantile(double q) => sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(q * sorted.Length))];
        double[] cuts = [Quantile(0.25), Quantile(0.5), Quantile(0.75)];
        return numbers.Select(n => $"q{cuts.Count(c => n >= c) + 1}").ToArray();
    }

    static double Share(int[] sample, IReadOnlyList<Observation> trials, string[] levels)
    {
        double mean = sample.Average(i => trials[i].Value);
        double total = sample.Sum(i => Math.Pow(trials[i].Value - mean, 2));
        if (total <= 0) return 0;
        double between = sample.GroupBy(i => levels[i]).Sum(g => g.Count() * Math.Pow(g.Average(i => trials[i].Value) - mean, 2));
        return between / total;
    }
}
