using Distributed.Models.Data;

namespace Distributed.Models.Tests.Data;

public sealed class ShardingTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Every_item_is_in_exactly_one_shard(int worldSize)
    {
        var items = Enumerable.Range(0, 23).ToArray();
        var shards = Enumerable.Range(0, worldSize).Select(rank => Sharding.Shard(items, rank, worldSize)).ToList();

        Assert.Equal(items, shards.SelectMany(s => s).Order());
        Assert.True(shards.Max(s => s.Count) - shards.Min(s => s.Count) <= 1);
        for (var rank = 0; rank < worldSize; rank++) Assert.All(shards[rank], i => Assert.Equal(rank, i % worldSize));
    }

    [Fact]
    public void Shards_keep_the_original_order()
    {
        Assert.Equal(["b", "e"], Sharding.Shard(["a", "b", "c", "d", "e"], 1, 3));
    }

    [Fact]
    public void More_workers_than_items_leaves_some_shards_empty()
    {
        Assert.Empty(Sharding.Shard([1, 2], 3, 4));
    }

    [Theory]
    [InlineData(0, 0, "worldSize")]
    [InlineData(0, -1, "worldSize")]
    [InlineData(-1, 2, "rank")]
    [InlineData(2, 2, "rank")]
    public void Rejects_bad_rank_or_world_size_naming_them(int rank, int worldSize, string parameter)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Sharding.Shard([1, 2, 3], rank, worldSize));
        Assert.Equal(parameter, e.ParamName);
    }
}
