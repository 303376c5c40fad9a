namespace Distributed.Models.Data;

/// <summary>Deals a data set out to the workers of a data-parallel run.</summary>
public static class Sharding
{
    /// <summary>The items of worker <paramref name="rank"/> out of <paramref name="worldSize"/>: item i goes to shard i mod worldSize.</summary>
    public static IReadOnlyList<T> Shard<T>(IReadOnlyList<T> items, int rank, int worldSize)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        if (rank < 0 || rank >= worldSize)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"must be in [0, {worldSize})");

        var shard = new List<T>(items.Count / worldSize + 1);
        for (var i = rank; i < items.Count; i += worldSize) shard.Add(items[i]);
        return shard;
    }
}
