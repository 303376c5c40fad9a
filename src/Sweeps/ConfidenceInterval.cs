using Distributed.Grains.Abstractions.Sweeps;
namespace Distributed.Sweeps;

/// <summary>A mean with its two-sided 95% confidence interval (Student's t), over n observations.</summary>
public sealed record MeanInterval(int Count, double Mean, double Low, double High)
{
    public double HalfWidth => (High - Low) / 2;

    /// <summary>
    /// The interval kept inside what the quantity can be ([0, 1] for a proportion): a t interval over few trials
    /// can run far outside it, and "somewhere in [0, 1]" is the honest reading then. An unbounded (one-value)
    /// interval becomes the whole range where the range is finite.
    /// </summary>
    public MeanInterval Within(double min, double max) => this with
    {
        Low = double.IsNaN(Low) ? (double.IsFinite(min) ? min : Low) : Math.Max(min, Low),
        High = double.IsNaN(High) ? (double.IsFinite(max) ? max : High) : Math.Min(max, High),
    };

    /// <summary>The mean and 95% interval; with one observation the interval is unbounded (NaN).</summary>
    public static MeanInterval Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        double mean = values.Average();
        if (values.Count == 1) return new MeanInterval(1, mean, double.NaN, double.NaN);
        double variance = values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1);
        double half = StudentT95(values.Count - 1) * Math.Sqrt(variance / values.Count);
        return new MeanInterval(values.Count, mean, mean - half, mean + half);
    }

    static readonly double[] Table =
    [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];

    /// <summary>The 97.5th percentile of Student's t with <paramref name="df"/> degrees of freedom.</summary>
    public static double StudentT95(int df)
    {
        if (df < 1) throw new ArgumentOutOfRangeException(nameof(df));
        if (df <= Table.Length) return Table[df - 1];
        // Cornish-Fisher expansion around the normal quantile: within 0.001 of the exact value beyond 30.
        const double z = 1.959964;
        return z + (z * z * z + z) / (4 * df) + (5 * Math.Pow(z, 5) + 16 * z * z * z + 3 * z) / (96.0 * df * df);
    }
}
