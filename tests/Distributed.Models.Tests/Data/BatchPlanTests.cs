using Distributed.Models.Data;

namespace Distributed.Models.Tests.Data;

public sealed class BatchPlanTests
{
    private static int[] Lengths(int n, ulong seed)
    {
        var random = new SeededRandom(seed);
        return Enumerable.Range(0, n).Select(_ => random.Next(1, 101)).ToArray();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Same_arguments_give_the_same_batches(bool bucket)
    {
        var lengths = Lengths(1000, 1);
        var a = BatchPlan.ForEpoch(lengths, 16, 7, 3, bucket);
        var b = BatchPlan.ForEpoch(lengths, 16, 7, 3, bucket);
        Assert.Equal(a, b);
        Assert.NotEqual(a, BatchPlan.ForEpoch(lengths, 16, 7, 4, bucket));
        Assert.NotEqual(a, BatchPlan.ForEpoch(lengths, 16, 8, 3, bucket));
    }

    [Theory]
    [InlineData(1000, 16, false)]
    [InlineData(1000, 16, true)]
    [InlineData(64, 8, true)]
    [InlineData(5, 5, false)]
    [InlineData(2000, 7, true)]
    public void Batches_are_full_and_indices_never_repeat(int n, int batchSize, bool bucket)
    {
        var batches = BatchPlan.ForEpoch(Lengths(n, 2), batchSize, 1, 0, bucket);

        Assert.Equal(n / batchSize, batches.Count);
        Assert.All(batches, batch => Assert.Equal(batchSize, batch.Length));
        var indices = batches.SelectMany(b => b).ToList();
        Assert.Equal(indices.Count, indices.Distinct().Count());
        Assert.All(indices, i => Assert.InRange(i, 0, n - 1));
        Assert.True(n - indices.Count < batchSize);
    }

    [Fact]
    public void Fewer_examples_than_a_batch_make_one_batch_of_all()
    {
        var batch = Assert.Single(BatchPlan.ForEpoch([3, 1, 2], 8, 1, 0, bucketByLength: true));
        Assert.Equal([0, 1, 2], batch.Order());
        Assert.Empty(BatchPlan.ForEpoch([], 8, 1, 0, bucketByLength: false));
    }

    [Fact]
    public void Epochs_visit_examples_in_different_orders()
    {
        var lengths = Lengths(100, 3);
        var first = BatchPlan.ForEpoch(lengths, 10, 1, 0, false).SelectMany(b => b).ToArray();
        var second = BatchPlan.ForEpoch(lengths, 10, 1, 1, false).SelectMany(b => b).ToArray();
        Assert.Equal(first.Order(), second.Order());
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Bucketing_narrows_the_length_spread_within_batches()
    {
        var lengths = Lengths(4000, 4);
        double Spread(IReadOnlyList<int[]> batches) =>
            batches.Average(b => b.Max(i => lengths[i]) - b.Min(i => lengths[i]));

        var bucketed = Spread(BatchPlan.ForEpoch(lengths, 16, 1, 0, true));
        var plain = Spread(BatchPlan.ForEpoch(lengths, 16, 1, 0, false));

        // Sixteen uniform lengths in 1..100 spread about 88; pools of 800 sorted leave about 2.
        Assert.True(bucketed * 10 < plain, $"bucketed spread {bucketed}, plain {plain}");
    }

    [Fact]
    public void Bucketed_batch_order_is_shuffled_not_sorted_by_length()
    {
        var lengths = Lengths(800, 5);
        var batches = BatchPlan.ForEpoch(lengths, 16, 1, 0, true);
        var means = batches.Select(b => b.Average(i => lengths[i])).ToArray();
        Assert.NotEqual(means.Order(), means);
    }

    [Theory]
    [InlineData(0, 0, "batchSize")]
    [InlineData(4, -1, "epoch")]
    public void Rejects_bad_arguments_naming_them(int batchSize, int epoch, string parameter)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => BatchPlan.ForEpoch([1, 2, 3], batchSize, 0, epoch, false));
        Assert.Equal(parameter, e.ParamName);
    }
}
