using Distributed.Models.Data;

namespace Distributed.Models.Tests.Data;

public sealed class SeededRandomTests
{
    [Fact]
    public void Matches_the_published_SplitMix64_sequence()
    {
        // Reference outputs of Vigna's splitmix64.c for seed 1234567.
        var random = new SeededRandom(1234567);
        ulong[] expected = [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821];
        Assert.Equal(expected, Enumerable.Range(0, 5).Select(_ => random.NextUInt64()).ToArray());
    }

    [Fact]
    public void Same_seed_gives_same_sequence_and_different_seed_differs()
    {
        var a = new SeededRandom(42);
        var b = new SeededRandom(42);
        var c = new SeededRandom(43);
        var sa = Enumerable.Range(0, 100).Select(_ => a.Next(1000)).ToArray();
        var sb = Enumerable.Range(0, 100).Select(_ => b.Next(1000)).ToArray();
        var sc = Enumerable.Range(0, 100).Select(_ => c.Next(1000)).ToArray();
        Assert.Equal(sa, sb);
        Assert.NotEqual(sa, sc);
    }

    [Fact]
    public void Restoring_the_state_resumes_the_sequence()
    {
        var random = new SeededRandom(7);
        for (var i = 0; i < 10; i++) random.NextUInt64();
        var saved = random.State;
        var continued = Enumerable.Range(0, 20).Select(_ => random.NextUInt64()).ToArray();

        var resumed = new SeededRandom(0) { State = saved };
        Assert.Equal(continued, Enumerable.Range(0, 20).Select(_ => resumed.NextUInt64()).ToArray());
    }

    [Fact]
    public void Next_stays_in_range_and_hits_every_value()
    {
        var random = new SeededRandom(1);
        var seen = new int[7];
        for (var i = 0; i < 7000; i++) seen[random.Next(7)]++;
        // Each bucket expects 1000; 800 is over six standard deviations away.
        Assert.All(seen, count => Assert.InRange(count, 800, 1200));

        for (var i = 0; i < 1000; i++) Assert.InRange(random.Next(-3, 4), -3, 3);
        Assert.Equal(0, random.Next(1));
        Assert.InRange(random.Next(int.MinValue, int.MaxValue), int.MinValue, int.MaxValue - 1);
    }

    [Fact]
    public void Next_rejects_empty_ranges()
    {
        var random = new SeededRandom(1);
        Assert.Equal("maxExclusive", Assert.Throws<ArgumentOutOfRangeException>(() => random.Next(0)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => random.Next(-5));
        Assert.Equal("maxExclusive", Assert.Throws<ArgumentOutOfRangeException>(() => random.Next(5, 5)).ParamName);
    }

    [Fact]
    public void NextDouble_is_in_unit_interval_with_mean_one_half()
    {
        var random = new SeededRandom(3);
        var values = Enumerable.Range(0, 10000).Select(_ => random.NextDouble()).ToArray();
        Assert.All(values, v => Assert.InRange(v, 0.0, Math.BitDecrement(1.0)));
        Assert.InRange(values.Average(), 0.48, 0.52);
    }

    [Fact]
    public void Shuffle_permutes_and_is_seeded()
    {
        var a = Enumerable.Range(0, 50).ToList();
        var b = Enumerable.Range(0, 50).ToList();
        new SeededRandom(9).Shuffle(a);
        new SeededRandom(9).Shuffle(b);
        Assert.Equal(a, b);
        Assert.NotEqual(Enumerable.Range(0, 50), a);
        Assert.Equal(Enumerable.Range(0, 50), a.Order());
    }

    [Fact]
    public void Shuffle_reaches_every_permutation_evenly()
    {
        var random = new SeededRandom(11);
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 6000; i++)
        {
            var items = new[] { 'a', 'b', 'c' };
            random.Shuffle(items);
            var key = new string(items);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        Assert.Equal(6, counts.Count);
        Assert.All(counts.Values, count => Assert.InRange(count, 850, 1150));
    }

    [Fact]
    public void Mix_is_deterministic_and_separates_inputs()
    {
        Assert.Equal(SeededRandom.Mix(5, 1), SeededRandom.Mix(5, 1));
        var seeds = new HashSet<ulong>();
        for (ulong seed = 0; seed < 20; seed++)
        {
            for (ulong epoch = 0; epoch < 20; epoch++) seeds.Add(SeededRandom.Mix(seed, epoch));
        }
        Assert.Equal(400, seeds.Count);
        Assert.NotEqual(SeededRandom.Mix(1, 2), SeededRandom.Mix(2, 1));
    }
}
