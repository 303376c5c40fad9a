using Distributed.Grains.Abstractions.Sweeps;
namespace Distributed.Sweeps;

/// <summary>
/// A trial as the sampler sees it: its point (one coordinate per dimension: a choice's index, a number, or the log of a
/// log-uniform number) and its loss (lower is better), null while it runs.
/// </summary>
public sealed record TpeObservation(double[] Point, double? Loss);

/// <summary>How the sampler proposes: random points first, then from the good trials' density over the bad ones'.</summary>
public sealed record TpeSettings(int StartupTrials = 10, int Candidates = 24, bool Multivariate = true, double PriorWeight = 1.0);

/// <summary>
/// The tree-structured Parzen estimator (Bergstra et al. 2011) as Optuna's TPESampler runs it: the finished trials
/// are split into the γ(n) = min(⌈0.1·n⌉, 25) best ("good") and the rest; each group gets a Parzen density over the
/// space (a kernel per trial plus a prior over the whole range); <see cref="TpeSettings.Candidates"/> points are
/// drawn from the good density l and the one with the largest l(x)/g(x) is proposed. Running trials count as the
/// worst (the constant liar), so concurrent proposals spread out; a point equal to one already tried or running
/// is never proposed while another is left.
/// </summary>
public static class TreeParzenEstimator
{
    const double SigmaMagnitude = 0.2;

    /// <summary>The next point; <paramref name="random"/> alone decides the draws, so a seed reproduces a sequence.</summary>
    public static double[] Propose(IReadOnlyList<SearchDimension> space, IReadOnlyList<TpeObservation> observations, TpeSettings settings, Random random)
    {
        var taken = observations.Select(o => Key(space, o.Point)).ToHashSet();
        if (observations.Count(o => o.Loss is not null) < settings.StartupTrials) return FreshRandom(space, taken, random);

        var (good, bad) = Split(observations);
        var l = new ParzenEstimator(space, good, settings);
        var g = new ParzenEstimator(space, bad, settings);
        double[]? best = null;
        double bestScore = double.NegativeInfinity;
        for (int c = 0; c < settings.Candidates; c++)
        {
            var candidate = l.Sample(random);
            if (taken.Contains(Key(space, candidate))) continue;
            double score = l.LogDensity(candidate) - g.LogDensity(candidate);
            if (score > bestScore) (best, bestScore) = (candidate, score);
        }
        return best ?? FreshRandom(space, taken, random);
    }

    /// <summary>The good group (the γ(n) lowest losses, running trials last as the worst) and the rest.</summary>
    public static (IReadOnlyList<double[]> Good, IReadOnlyList<double[]> Bad) Split(IReadOnlyList<TpeObservation> observations)
    {
        var ranked = observations.OrderBy(o => o.Loss ?? double.PositiveInfinity).ToList();
        int good = Math.Max(1, Gamma(ranked.Count));
        return (ranked.Take(good).Select(o => o.Point).ToList(), ranked.Skip(good).Select(o => o.Point).ToList());
    }

    /// <summary>γ(n) = min(⌈0.1·n⌉, 25), Optuna's default.</summary>
    public static int Gamma(int n) => Math.Min((int)Math.Ceiling(0.1 * n), 25);

    /// <summary>A uniform draw from the space that is not <paramref name="taken"/>, if one turns up in 100 tries.</summary>
    static double[] FreshRandom(IReadOnlyList<SearchDimension> space, HashSet<string> taken, Random random)
    {
        double[] point = [];
        for (int attempt = 0; attempt < 100; attempt++)
        {
            point = space.Select(d => Range.Of(d) is var r && r.Choices > 0 ? random.Next(r.Choices) : Snap(d, r.Low + random.NextDouble() * (r.High - r.Low))).ToArray();
            if (!taken.Contains(Key(space, point))) return point;
        }
        return point;
    }

    /// <summary>The point's identity: choices and whole numbers exactly, reals to 12 significant digits.</summary>
    static string Key(IReadOnlyList<SearchDimension> space, double[] point) =>
        string.Join("|", point.Select(v => v.ToString("G12", System.Globalization.CultureInfo.InvariantCulture)));

    static double Snap(SearchDimension d, double x) => d.Kind == DimensionKind.IntRange ? Math.Clamp(Math.Round(x), d.Min, d.Max) : x;

    /// <summary>A dimension's range in the sampler's coordinates; <c>Choices</c> &gt; 0 for a list of values.</summary>
    internal readonly record struct Range(double Low, double High, int Choices)
    {
        public static Range Of(SearchDimension d) => d.Kind switch
        {
            DimensionKind.Values => new(0, d.Values.Count - 1, d.Values.Count),
            DimensionKind.LogUniform => new(Math.Log(d.Min), Math.Log(d.Max), 0),
            // Whole numbers are densities over [min - 0.5, max + 0.5], rounded when drawn, as Optuna does.
            DimensionKind.IntRange => new(d.Min - 0.5, d.Max + 0.5, 0),
            _ => new(d.Min, d.Max, 0),
        };
    }

    /// <summary>
    /// A mixture of one kernel per observation and a prior component: truncated Gaussians for numbers (bandwidth by
    /// Scott's rule in the multivariate case, Optuna's neighbour distances otherwise, clipped to [range / min(100, n + 1),
    /// range]); for choices, the observed choice plus the prior weight spread over all choices.
    /// </summary>
    public sealed class ParzenEstimator
    {
        readonly IReadOnlyList<SearchDimension> space;
        readonly Range[] ranges;
        readonly bool multivariate;
        // Component i of dimension d: its centre (or choice) and bandwidth; the last component is the prior.
        readonly double[][] centres, sigmas;
        readonly double[][][] choiceWeights;
        readonly double[] logWeights;

        public ParzenEstimator(IReadOnlyList<SearchDimension> space, IReadOnlyList<double[]> points, TpeSettings settings)
        {
            this.space = space;
            multivariate = settings.Multivariate;
            ranges = space.Select(Range.Of).ToArray();
            int n = points.Count, components = n + 1;
            double total = n + settings.PriorWeight;
            logWeights = Enumerable.Range(0, components).Select(i => Math.Log((i < n ? 1.0 : settings.PriorWeight) / total)).ToArray();
            centres = new double[space.Count][];
            sigmas = new double[space.Count][];
            choiceWeights = new double[space.Count][][];
            for (int d = 0; d < space.Count; d++)
            {
                var r = ranges[d];
                if (r.Choices > 0)
                {
                    choiceWeights[d] = Enumerable.Range(0, components).Select(i =>
                    {
                        var w = Enumerable.Repeat(settings.PriorWeight / r.Choices, r.Choices).ToArray();
                        if (i < n) w[(int)points[i][d]] += 1;
                        double sum = w.Sum();
                        return w.Select(x => x / sum).ToArray();
                    }).ToArray();
                    continue;
                }
                double width = r.High - r.Low;
                centres[d] = points.Select(p => p[d]).Append((r.Low + r.High) / 2).ToArray();
                double minSigma = width / Math.Min(100.0, n + 1.0);
                var raw = multivariate
                    ? Enumerable.Repeat(SigmaMagnitude * Math.Pow(Math.Max(n, 1), -1.0 / (space.Count + 4)) * width, n).ToArray()
                    : NeighbourSigmas(centres[d][..n], r);
                sigmas[d] = raw.Select(s => Math.Clamp(s, minSigma, width)).Append(width).ToArray();
            }
        }

        /// <summary>Univariate bandwidths: each kernel's larger distance to its neighbours among the sorted centres and the range's ends.</summary>
        static double[] NeighbourSigmas(double[] mus, Range r)
        {
            var order = Enumerable.Range(0, mus.Length).OrderBy(i => mus[i]).ToArray();
            var sorted = new[] { r.Low }.Concat(order.Select(i => mus[i])).Append(r.High).ToArray();
            var result = new double[mus.Length];
            for (int k = 0; k < order.Length; k++)
                result[order[k]] = Math.Max(sorted[k + 1] - sorted[k], sorted[k + 2] - sorted[k + 1]);
            return result;
        }

        public double[] Sample(Random random)
        {
            int shared = Component(random);
            var point = new double[space.Count];
            for (int d = 0; d < space.Count; d++)
            {
                // Multivariate draws every coordinate from one component, keeping the good trials' combinations together.
                int i = multivariate ? shared : Component(random);
                var r = ranges[d];
                if (r.Choices > 0)
                {
                    point[d] = Categorical(choiceWeights[d][i], random);
                    continue;
                }
                point[d] = Snap(space[d], TruncatedNormal(centres[d][i], sigmas[d][i], r.Low, r.High, random));
            }
            return point;
        }

        public double LogDensity(double[] point)
        {
            int components = logWeights.Length;
            if (multivariate)
                return LogSumExp(Enumerable.Range(0, components).Select(i => logWeights[i] + Enumerable.Range(0, space.Count).Sum(d => LogKernel(d, i, point[d]))));
            return Enumerable.Range(0, space.Count).Sum(d => LogSumExp(Enumerable.Range(0, components).Select(i => logWeights[i] + LogKernel(d, i, point[d]))));
        }

        double LogKernel(int d, int i, double x)
        {
            var r = ranges[d];
            if (r.Choices > 0) return Math.Log(choiceWeights[d][i][(int)x]);
            if (space[d].Kind == DimensionKind.IntRange)
            {
                // A whole number carries the mass of its unit interval.
                double mass = NormalCdf((x + 0.5 - centres[d][i]) / sigmas[d][i]) - NormalCdf((x - 0.5 - centres[d][i]) / sigmas[d][i]);
                return Math.Log(Math.Max(mass, 1e-300)) - Math.Log(TruncatedMass(d, i));
            }
            double z = (x - centres[d][i]) / sigmas[d][i];
            return -0.5 * z * z - 0.5 * Math.Log(2 * Math.PI) - Math.Log(sigmas[d][i]) - Math.Log(TruncatedMass(d, i));
        }

        double TruncatedMass(int d, int i) =>
            Math.Max(NormalCdf((ranges[d].High - centres[d][i]) / sigmas[d][i]) - NormalCdf((ranges[d].Low - centres[d][i]) / sigmas[d][i]), 1e-300);

        int Component(Random random)
        {
            double u = random.NextDouble(), sum = 0;
            for (int i = 0; i < logWeights.Length; i++)
                if ((sum += Math.Exp(logWeights[i])) > u) return i;
            return logWeights.Length - 1;
        }

        static int Categorical(double[] weights, Random random)
        {
            double u = random.NextDouble(), sum = 0;
            for (int k = 0; k < weights.Length; k++)
                if ((sum += weights[k]) > u) return k;
            return weights.Length - 1;
        }

        /// <summary>A normal draw kept inside [low, high] by inverting the CDF over the allowed mass.</summary>
        static double TruncatedNormal(double mu, double sigma, double low, double high, Random random)
        {
            double a = NormalCdf((low - mu) / sigma), b = NormalCdf((high - mu) / sigma);
            double p = a + random.NextDouble() * (b - a);
            return Math.Clamp(mu + sigma * NormalQuantile(Math.Clamp(p, 1e-12, 1 - 1e-12)), low, high);
        }
    }

    static double LogSumExp(IEnumerable<double> values)
    {
        var list = values.ToList();
        double max = list.Max();
        return double.IsNegativeInfinity(max) ? max : max + Math.Log(list.Sum(v => Math.Exp(v - max)));
    }

    /// <summary>Φ(z) from erfc, accurate to about 1e-7 (Numerical Recipes' Chebyshev fit).</summary>
    public static double NormalCdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2));

    static double Erfc(double x)
    {
        double z = Math.Abs(x), t = 1 / (1 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
            t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }

    /// <summary>Φ⁻¹(p) by Acklam's rational approximation refined with one Newton step.</summary>
    static double NormalQuantile(double p)
    {
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        double x;
        if (p < 0.02425)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        else if (p <= 1 - 0.02425)
        {
            double q = p - 0.5, r = q * q;
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        }
        else
        {
            double q = Math.Sqrt(-2 * Math.Log(1 - p));
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        double e = NormalCdf(x) - p;
        return x - e * Math.Sqrt(2 * Math.PI) * Math.Exp(x * x / 2);
    }
}
