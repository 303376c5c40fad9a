using System.Numerics;
using Distributed.Options;

namespace Distributed.Models.Training;

/// <summary>
/// Gradient clipping over a flat gradient buffer (the same buffer workers exchange), so the worker, the
/// coordinator and the single-replica loop all clip with this one piece of code.
/// </summary>
public static class GradientClipping
{
    /// <summary>Global L2 norm, accumulated in double so the result does not depend on the buffer's length.</summary>
    public static double L2Norm(ReadOnlySpan<float> gradient)
    {
        double sum = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var acc = Vector<float>.Zero;
            // Partial sums in float over short runs, folded into the double total often enough to stay accurate.
            for (; i <= gradient.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = new Vector<float>(gradient.Slice(i));
                acc += v * v;
                if ((i / Vector<float>.Count & 63) == 63)
                {
                    sum += Vector.Sum(acc);
                    acc = Vector<float>.Zero;
                }
            }
            sum += Vector.Sum(acc);
        }
        for (; i < gradient.Length; i++) sum += (double)gradient[i] * gradient[i];
        return Math.Sqrt(sum);
    }

    /// <summary>Clips in place and returns the L2 norm before clipping (reported every step).</summary>
    public static double Clip(Span<float> gradient, ClipMode mode, double threshold)
    {
        double norm = L2Norm(gradient);
        ClipPart(gradient, norm, mode, threshold);
        return norm;
    }

    /// <summary>
    /// Clips <paramref name="values"/>, part or all of a gradient whose whole L2 norm is <paramref name="norm"/>; returns
    /// the factor clipping by norm scaled them by (1 under the threshold, and for the other modes).
    /// </summary>
    public static float ClipPart(Span<float> values, double norm, ClipMode mode, double threshold)
    {
        switch (mode)
        {
            case ClipMode.Norm when norm > threshold:
                float factor = NormFactor(norm, threshold);
                Scale(values, factor);
                return factor;
            case ClipMode.Value:
                ClampValues(values, (float)threshold);
                break;
        }
        return 1f;
    }

    /// <summary>What norm clipping multiplies a gradient of L2 norm <paramref name="norm"/> by: 1 under the threshold.</summary>
    public static float NormFactor(double norm, double threshold) => norm > threshold ? (float)(threshold / (norm + 1e-6)) : 1f;

    public static void Scale(Span<float> values, float factor)
    {
        int i = 0;
        var f = new Vector<float>(factor);
        for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            (new Vector<float>(values.Slice(i)) * f).CopyTo(values.Slice(i));
        for (; i < values.Length; i++) values[i] *= factor;
    }

    public static void ClampValues(Span<float> values, float threshold)
    {
        int i = 0;
        var hi = new Vector<float>(threshold);
        var lo = new Vector<float>(-threshold);
        for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            Vector.Min(Vector.Max(new Vector<float>(values.Slice(i)), lo), hi).CopyTo(values.Slice(i));
        for (; i < values.Length; i++) values[i] = Math.Clamp(values[i], -threshold, threshold);
    }
}
