namespace Distributed.Models.Data;

/// <summary>A corpus cut into disjoint training, validation and test parts.</summary>
public sealed record SplitCorpus(IReadOnlyList<TextPair> Train, IReadOnlyList<TextPair> Valid, IReadOnlyList<TextPair> Test);

/// <summary>Cuts a corpus into train, validation and test parts, the same way for the same seed.</summary>
public static class DatasetSplitter
{
    /// <summary>
    /// Shuffles with <paramref name="seed"/>, then takes round(testFraction·n) pairs for test, round(validFraction·n)
    /// for validation (halves rounded away from zero) and the rest for training. Every pair lands in exactly one part.
    /// </summary>
    public static SplitCorpus Split(IReadOnlyList<TextPair> pairs, double validFraction, double testFraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (!(validFraction is >= 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(validFraction), validFraction, "must be in [0, 1)");
        if (!(testFraction is >= 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "must be in [0, 1)");
        if (validFraction + testFraction >= 1)
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "validFraction + testFraction must be below 1");

        var order = pairs.ToArray();
        new SeededRandom(seed).Shuffle(order);

        var n = order.Length;
        var testCount = (int)Math.Round(testFraction * n, MidpointRounding.AwayFromZero);
        // Both rounding up could claim one pair more than exists.
        var validCount = Math.Min((int)Math.Round(validFraction * n, MidpointRounding.AwayFromZero), n - testCount);
        return new SplitCorpus(
            Train: order[(testCount + validCount)..],
            Valid: order[testCount..(testCount + validCount)],
            Test: order[..testCount]);
    }
}
