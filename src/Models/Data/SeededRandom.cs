namespace Distributed.Models.Data;

/// <summary>
/// SplitMix64 generator (Steele, Lea and Flood 2014). Its whole state is one <see cref="ulong"/>,
/// so a data pipeline can be checkpointed and resumed exactly.
/// </summary>
public sealed class SeededRandom
{
    private const ulong GoldenGamma = 0x9E3779B97F4A7C15UL;

    /// <summary>Starts the sequence at <paramref name="seed"/>.</summary>
    public SeededRandom(ulong seed) => State = seed;

    /// <summary>The complete generator state; setting it resumes the sequence from that point.</summary>
    public ulong State { get; set; }

    /// <summary>The next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64()
    {
        State += GoldenGamma;
        return Finalise(State);
    }

    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>).</summary>
    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)NextBelow((ulong)maxExclusive);
    }

    /// <summary>A uniform integer in [<paramref name="minInclusive"/>, <paramref name="maxExclusive"/>).</summary>
    public int Next(int minInclusive, int maxExclusive)
    {
        if (maxExclusive <= minInclusive)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), maxExclusive, "must be greater than minInclusive");
        // The span can exceed int.MaxValue, so it is computed in 64 bits.
        var span = (ulong)((long)maxExclusive - minInclusive);
        return (int)(minInclusive + (long)NextBelow(span));
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates), every permutation equally likely.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        for (var i = items.Count - 1; i > 0; i--)
        {
            var j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>Derives a sub-seed from two values (for example a run seed and an epoch); different inputs give unrelated seeds.</summary>
    public static ulong Mix(ulong a, ulong b) => Finalise(Finalise(a) ^ (b * GoldenGamma + GoldenGamma));

    private ulong NextBelow(ulong bound)
    {
        // Values below 2^64 mod bound would make small results more likely, so they are redrawn.
        var threshold = (0UL - bound) % bound;
        while (true)
        {
            var r = NextUInt64();
            if (r >= threshold) return r % bound;
        }
    }

    private static ulong Finalise(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
