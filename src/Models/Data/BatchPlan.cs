namespace Distributed.Models.Data;

/// <summary>Which examples go into which batch in one epoch.</summary>
public static class BatchPlan
{
    private const int PoolBatches = 50;

    /// <summary>
    /// The batches (arrays of example indices) of epoch <paramref name="epoch"/>, a pure function of the arguments so
    /// every worker and every resumed run agrees. Only full batches are returned, except that fewer than
    /// <paramref name="batchSize"/> examples in all make one short batch. With <paramref name="bucketByLength"/>,
    /// examples of similar source length share a batch, which cuts padding.
    /// </summary>
    public static IReadOnlyList<int[]> ForEpoch(IReadOnlyList<int> sourceLengths, int batchSize, ulong seed, int epoch, bool bucketByLength)
    {
        ArgumentNullException.ThrowIfNull(sourceLengths);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);

        var n = sourceLengths.Count;
        var random = new SeededRandom(SeededRandom.Mix(seed, (ulong)epoch));
        var order = Enumerable.Range(0, n).ToArray();
        random.Shuffle(order);

        if (n == 0) return [];
        if (n < batchSize) return [order];

        if (bucketByLength)
        {
            // Sorting only within a pool keeps the epoch random while batching neighbours in length.
            var poolSize = (int)Math.Min((long)batchSize * PoolBatches, n);
            for (var start = 0; start < n; start += poolSize)
            {
                var pool = order.AsSpan(start, Math.Min(poolSize, n - start));
                pool.Sort((a, b) => sourceLengths[a] != sourceLengths[b]
                    ? sourceLengths[a].CompareTo(sourceLengths[b])
                    : a.CompareTo(b));
            }
        }

        // The tail is dropped so every step of every worker sees exactly batchSize examples.
        var batches = new int[n / batchSize][];
        for (var b = 0; b < batches.Length; b++) batches[b] = order[(b * batchSize)..((b + 1) * batchSize)];
        if (bucketByLength) random.Shuffle(batches);
        return batches;
    }
}
