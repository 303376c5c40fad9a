using Distributed.Models.Data;

namespace Distributed.Models.Tests.Data;

public sealed class DatasetSplitterTests
{
    private static TextPair[] Pairs(int n) =>
        Enumerable.Range(0, n).Select(i => new TextPair($"s{i}", $"t{i}")).ToArray();

    [Theory]
    [InlineData(100, 0.1, 0.1, 80, 10, 10)]
    [InlineData(7, 0.2, 0.3, 4, 1, 2)]
    // 2.5 validation pairs round half away from zero to 3.
    [InlineData(10, 0.25, 0.2, 5, 3, 2)]
    [InlineData(5, 0.0, 0.0, 5, 0, 0)]
    [InlineData(0, 0.5, 0.2, 0, 0, 0)]
    [InlineData(1, 0.5, 0.4, 0, 1, 0)]
    public void Splits_are_disjoint_complete_and_rounded(int n, double valid, double test, int trainCount, int validCount, int testCount)
    {
        var pairs = Pairs(n);
        var split = DatasetSplitter.Split(pairs, valid, test, seed: 1);

        Assert.Equal(trainCount, split.Train.Count);
        Assert.Equal(validCount, split.Valid.Count);
        Assert.Equal(testCount, split.Test.Count);
        var all = split.Train.Concat(split.Valid).Concat(split.Test).ToList();
        Assert.Equal(pairs.Length, all.Distinct().Count());
        Assert.Equal(pairs.ToHashSet(), all.ToHashSet());
    }

    [Fact]
    public void Same_seed_same_split_and_different_seed_differs()
    {
        var pairs = Pairs(200);
        var a = DatasetSplitter.Split(pairs, 0.1, 0.1, 3);
        var b = DatasetSplitter.Split(pairs, 0.1, 0.1, 3);
        var c = DatasetSplitter.Split(pairs, 0.1, 0.1, 4);
        Assert.Equal(a.Train, b.Train);
        Assert.Equal(a.Valid, b.Valid);
        Assert.Equal(a.Test, b.Test);
        Assert.NotEqual(a.Test, c.Test);
    }

    [Fact]
    public void Split_is_shuffled_not_taken_from_the_ends()
    {
        var split = DatasetSplitter.Split(Pairs(200), 0.1, 0.1, 3);
        Assert.NotEqual(Pairs(200)[..20], split.Test);
        Assert.NotEqual(Pairs(200)[^20..], split.Test);
    }

    [Theory]
    [InlineData(-0.1, 0.1, "validFraction")]
    [InlineData(1.0, 0.0, "validFraction")]
    [InlineData(double.NaN, 0.0, "validFraction")]
    [InlineData(0.1, -0.01, "testFraction")]
    [InlineData(0.0, 1.0, "testFraction")]
    [InlineData(0.5, 0.5, "testFraction")]
    [InlineData(0.6, 0.7, "testFraction")]
    public void Rejects_bad_fractions_naming_them(double valid, double test, string parameter)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DatasetSplitter.Split(Pairs(10), valid, test, 0));
        Assert.Equal(parameter, e.ParamName);
    }
}
