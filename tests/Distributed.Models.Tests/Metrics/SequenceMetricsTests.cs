using Distributed.Models.Metrics;

namespace Distributed.Models.Tests.Metrics;

public sealed class SequenceMetricsTests
{
    private static IReadOnlyList<string>[] Chars(params string[] sequences) =>
        sequences.Select(s => (IReadOnlyList<string>)s.Select(c => c.ToString()).ToArray()).ToArray();

    [Fact]
    public void Exact_match_is_the_fraction_of_equal_sequences()
    {
        Assert.Equal(0.5, SequenceMetrics.ExactMatch(Chars("abc", "abd", "", "x"), Chars("abc", "abc", "", "xy")));
        Assert.Equal(1.0, SequenceMetrics.ExactMatch(Chars("ab"), Chars("ab")));
        Assert.Equal(0.0, SequenceMetrics.ExactMatch(Chars("ab"), Chars("ba")));
        Assert.Equal(1.0, SequenceMetrics.ExactMatch([], []));
    }

    [Fact]
    public void Position_accuracy_counts_missing_and_extra_tokens_as_wrong()
    {
        // "abc" vs "axcd": a and c match, 4 positions; "xy" vs "x": 1 match, 2 positions. (2 + 1) / (4 + 2).
        Assert.Equal(0.5, SequenceMetrics.PositionAccuracy(Chars("abc", "xy"), Chars("axcd", "x")), 1e-12);
        // A shift makes every position wrong.
        Assert.Equal(0.0, SequenceMetrics.PositionAccuracy(Chars("abc"), Chars("zabc")));
    }

    [Fact]
    public void Position_accuracy_of_all_empty_is_one()
    {
        Assert.Equal(1.0, SequenceMetrics.PositionAccuracy(Chars("", ""), Chars("", "")));
        Assert.Equal(1.0, SequenceMetrics.PositionAccuracy([], []));
    }

    [Fact]
    public void Mismatched_lengths_throw()
    {
        Assert.Throws<ArgumentException>(() => SequenceMetrics.ExactMatch(Chars("a"), Chars("a", "b")));
        Assert.Throws<ArgumentException>(() => SequenceMetrics.PositionAccuracy(Chars("a"), Chars()));
    }

    [Fact]
    public void Perplexity_of_a_uniform_model_is_the_vocabulary_size()
    {
        // Every one of 250 tokens costs ln 37 nats under a uniform distribution over 37 tokens.
        const int vocabularySize = 37;
        const long tokens = 250;
        Assert.Equal(vocabularySize, SequenceMetrics.Perplexity(tokens * Math.Log(vocabularySize), tokens), 1e-9);
    }

    [Fact]
    public void Perplexity_of_a_certain_model_is_one()
    {
        Assert.Equal(1.0, SequenceMetrics.Perplexity(0, 10));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-3L)]
    public void Perplexity_needs_tokens(long tokenCount)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SequenceMetrics.Perplexity(1.0, tokenCount));
        Assert.Equal("tokenCount", e.ParamName);
    }
}
