using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace Distributed.Models.Network;

/// <summary>
/// Dropout masks drawn from the replica's own generator, so a run repeats exactly and a checkpoint
/// (which saves the generator state) resumes exactly. Masks are pre-scaled by 1/(1-p).
/// </summary>
public static unsafe class DropoutMasks
{
    /// <summary>One mask per sequence (batch row) over <paramref name="size"/> features: the recurrent (variational) kind.</summary>
    public static Tensor? PerSequence(long batch, long size, double p, Generator generator, bool training)
        => training && p > 0 ? Draw([batch, size], p, generator) : null;

    /// <summary>An ordinary dropout mask drawn ahead, so a fused recurrence and the step loop see the same one.</summary>
    public static Tensor? PerElement(long[] shape, double p, Generator generator, bool training)
        => training && p > 0 ? Draw(shape, p, generator) : null;

    /// <summary>A fresh mask for every element of <paramref name="x"/>, applied: ordinary dropout.</summary>
    public static Tensor Apply(Tensor x, double p, Generator? generator, bool training)
        => training && p > 0 && generator is not null ? x * Draw(x.shape, p, generator) : x;

    /// <summary>
    /// A mask of 0 and 1/(1−p), each element kept with probability 1−p. The generator gives the mask one key; the
    /// elements are a counter hashed under it, eight or sixteen at a time (libtorch's bernoulli_ draws each element
    /// from the generator in turn, about 11 ns apiece: an eighth of a small model's step with dropout on).
    /// </summary>
    internal static Tensor Draw(long[] shape, double p, Generator generator)
    {
        if (p is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(p), p, "a dropout probability is in (0, 1)");
        var mask = empty(shape);
        long count = mask.numel();
        if (count > uint.MaxValue) throw new ArgumentOutOfRangeException(nameof(shape), $"a dropout mask of {count} elements (at most 2^32)");
        uint k0, k1;
        using (var key = randint(0, int.MaxValue, [2], dtype: ScalarType.Int64, generator: generator))
        {
            var drawn = key.data<long>();
            (k0, k1) = ((uint)drawn[0], (uint)drawn[1]);
        }
        // Kept where the hash falls below (1−p)·2^32.
        uint below = (uint)Math.Min(uint.MaxValue, Math.Round((1 - p) * 4294967296.0));
        Fill(TensorMemory.Floats(mask), (uint)count, k0, k1, below, 1f / (float)(1 - p));
        return mask;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Fill(float* mask, uint count, uint k0, uint k1, uint below, float scale)
    {
        uint i = 0;
        if (Vector256.IsHardwareAccelerated && count >= 8)
        {
            var index = Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
            var step = Vector256.Create(8u);
            var kept = Vector256.Create(scale);
            var bound = Vector256.Create(below);
            var key0 = Vector256.Create(k0);
            var key1 = Vector256.Create(k1);
            for (; i <= count - 8; i += 8, index += step)
            {
                var h = Mix(Mix(index * Vector256.Create(0x9E3779B9u) ^ key0) ^ key1);
                Vector256.ConditionalSelect(Vector256.LessThan(h, bound).AsSingle(), kept, Vector256<float>.Zero).Store(mask + i);
            }
        }
        for (; i < count; i++) mask[i] = Mix(Mix(i * 0x9E3779B9u ^ k0) ^ k1) < below ? scale : 0f;
    }

    // MurmurHash3's 32-bit finaliser: every input bit reaches every output bit; twice, keyed, per element.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static uint Mix(uint x)
    {
        x ^= x >> 16;
        x *= 0x85EBCA6Bu;
        x ^= x >> 13;
        x *= 0xC2B2AE35u;
        return x ^ (x >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<uint> Mix(Vector256<uint> x)
    {
        x ^= Vector256.ShiftRightLogical(x, 16);
        x *= Vector256.Create(0x85EBCA6Bu);
        x ^= Vector256.ShiftRightLogical(x, 13);
        x *= Vector256.Create(0xC2B2AE35u);
        return x ^ Vector256.ShiftRightLogical(x, 16);
    }
}
