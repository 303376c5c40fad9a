using System.Numerics;
using Distributed.Options;

namespace Distributed.Models.Training;

/// <summary>
/// The coordinator's arithmetic for synchronous data-parallel training: the element-wise mean of the
/// workers' flat gradients, clipped afterwards when the scope is global. Every worker then applies the
/// same result with the same optimizer, so the replicas stay identical.
/// </summary>
public static class GradientAverager
{
    /// <summary>
    /// Writes the mean of <paramref name="gradients"/> into <paramref name="average"/> and, for
    /// <see cref="ClipScope.Global"/>, clips it; returns the L2 norm of the mean before clipping. The whole buffer as
    /// one chunk of what the coordinator does chunk by chunk (<see cref="MeanChunk"/>, <see cref="GlobalClip"/>).
    /// </summary>
    public static double Average(IReadOnlyList<ReadOnlyMemory<float>> gradients, Span<float> average, ClipScope scope,
        ClipMode mode, double threshold)
    {
        if (gradients.Count == 0) throw new ArgumentException("no gradients to average", nameof(gradients));
        foreach (var g in gradients)
            if (g.Length != average.Length)
                throw new ArgumentException($"a gradient has {g.Length} values, expected {average.Length}", nameof(gradients));

        double squares = MeanChunk(gradients, average, scope, mode, threshold);
        if (scope != ClipScope.Global) return GradientClipping.L2Norm(average);
        var (norm, factor) = GlobalClip([squares], mode, threshold);
        if (factor != 1f) GradientClipping.Scale(average, factor);
        return norm;
    }

    /// <summary>
    /// The mean of one chunk (the same slice of every worker's gradient) into <paramref name="mean"/>. Under global
    /// clipping it returns the chunk's sum of squares before clipping and clamps the chunk when clipping by value
    /// (element-wise, so chunk by chunk is exact); norm clipping needs every chunk's sum first (<see cref="GlobalClip"/>).
    /// </summary>
    public static double MeanChunk(IReadOnlyList<ReadOnlyMemory<float>> slices, Span<float> mean, ClipScope scope, ClipMode mode, double threshold)
    {
        Mean(slices, mean);
        return ClipChunk(mean, scope, mode, threshold);
    }

    /// <summary>
    /// A ring allreduce's last step on the slice a worker finished: the workers' <paramref name="sum"/> becomes their
    /// mean, clamped under global clipping by value as <see cref="MeanChunk"/> does. Returns the slice's sum of squares
    /// before clipping, whatever the scope: every worker learns every slice's, so all agree on the mean's norm.
    /// </summary>
    public static double FinishSum(Span<float> sum, int workers, ClipScope scope, ClipMode mode, double threshold)
    {
        GradientClipping.Scale(sum, 1f / workers);
        double norm = GradientClipping.L2Norm(sum);
        if (scope == ClipScope.Global && mode == ClipMode.Value) GradientClipping.ClampValues(sum, (float)threshold);
        return norm * norm;
    }

    static double ClipChunk(Span<float> mean, ClipScope scope, ClipMode mode, double threshold)
    {
        if (scope != ClipScope.Global) return 0;
        double norm = GradientClipping.L2Norm(mean);
        if (mode == ClipMode.Value) GradientClipping.ClampValues(mean, (float)threshold);
        return norm * norm;
    }

    /// <summary>
    /// Global clipping of a mean whose chunks' sums of squares are <paramref name="squares"/>: its norm before
    /// clipping, and the factor every worker scales it by before the update (1 unless clipping by norm above the threshold).
    /// </summary>
    public static (double Norm, float Factor) GlobalClip(IEnumerable<double> squares, ClipMode mode, double threshold)
    {
        double norm = Math.Sqrt(squares.Sum());
        return (norm, mode == ClipMode.Norm ? GradientClipping.NormFactor(norm, threshold) : 1f);
    }

    /// <summary>
    /// The element-wise mean of <paramref name="gradients"/> (all the same slice of each worker's gradient) into
    /// <paramref name="average"/>; the coordinator calls it chunk by chunk so averaging overlaps the transfer.
    /// </summary>
    public static void Mean(IReadOnlyList<ReadOnlyMemory<float>> gradients, Span<float> average)
    {
        float scale = 1f / gradients.Count;
        // Block by block, so copy, sums and scaling work in cache and each gradient is read from memory once.
        for (int start = 0; start < average.Length; start += MeanBlock)
        {
            int length = Math.Min(MeanBlock, average.Length - start);
            var block = average.Slice(start, length);
            gradients[0].Span.Slice(start, length).CopyTo(block);
            for (int w = 1; w < gradients.Count; w++) Accumulate(gradients[w].Span.Slice(start, length), block);
            GradientClipping.Scale(block, scale);
        }
    }

    // 16 KB: well inside L1 with the slices it sums.
    const int MeanBlock = 4096;

    /// <summary><paramref name="sum"/> += <paramref name="x"/>, element-wise.</summary>
    public static void Accumulate(ReadOnlySpan<float> x, Span<float> sum)
    {
        int i = 0;
        for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
            (new Vector<float>(sum.Slice(i)) + new Vector<float>(x.Slice(i))).CopyTo(sum.Slice(i));
        for (; i < x.Length; i++) sum[i] += x[i];
    }

    /// <summary>A checksum of a replica's parameters (FNV-1a over their bytes): equal replicas give equal sums.</summary>
    public static ulong Checksum(ReadOnlySpan<float> parameters)
    {
        ulong hash = 14695981039346656037UL;
        foreach (var b in System.Runtime.InteropServices.MemoryMarshal.AsBytes(parameters))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash;
    }
}
