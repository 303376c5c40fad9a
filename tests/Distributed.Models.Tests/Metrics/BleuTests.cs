using Distributed.Models.Metrics;

namespace Distributed.Models.Tests.Metrics;

public sealed class BleuTests
{
    private static IReadOnlyList<string>[] Corpus(params string[] sentences) =>
        sentences.Select(s => (IReadOnlyList<string>)s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();

    [Fact]
    public void Identical_corpus_scores_100()
    {
        var corpus = Corpus("the cat sat on the mat", "a quick brown fox jumps");
        Assert.Equal(100.0, Bleu.Corpus(corpus, corpus));
    }

    [Fact]
    public void Short_hypothesis_pays_the_brevity_penalty()
    {
        // hyp "the cat sat on mat" (c = 5), ref "the cat sat on the mat" (r = 6).
        // p1 = 5/5, p2 = 3/4 (the cat, cat sat, sat on), p3 = 2/3, p4 = 1/2.
        // Geometric mean = (1 · 3/4 · 2/3 · 1/2)^(1/4) = (1/4)^(1/4) = 1/√2.
        // BP = exp(1 - 6/5) = exp(-0.2); BLEU = 100 · exp(-0.2) / √2 ≈ 57.893.
        var bleu = Bleu.Corpus(Corpus("the cat sat on mat"), Corpus("the cat sat on the mat"));
        Assert.Equal(100 * Math.Exp(-0.2) / Math.Sqrt(2), bleu, 1e-9);
        Assert.Equal(57.893, bleu, 1e-3);
    }

    [Fact]
    public void Repeated_words_are_clipped_to_the_reference_count()
    {
        // "the" appears once in the reference, so only 1 of 4 unigrams counts; c = 4 > r = 2, no penalty.
        Assert.Equal(25.0, Bleu.Corpus(Corpus("the the the the"), Corpus("the cat"), maxOrder: 1), 1e-12);
    }

    [Fact]
    public void Counts_are_summed_over_the_corpus_not_averaged_per_sentence()
    {
        // Unigrams: 2/2 + 1/4 = 3/6 over the corpus; c = r = 6. Sentence-level averaging would give 62.5.
        var bleu = Bleu.Corpus(Corpus("a b", "c d e f"), Corpus("a b", "c x y z"), maxOrder: 1);
        Assert.Equal(50.0, bleu, 1e-12);
    }

    [Fact]
    public void Bigram_example_computed_by_hand()
    {
        // hyp "a b c d" vs ref "a b d c e": p1 = 4/4, p2 = 1/3 (only "a b"); c = 4, r = 5.
        // BLEU-2 = 100 · exp(1 - 5/4) · sqrt(1/3) = 100 · exp(-0.25) / √3 ≈ 44.97.
        var bleu = Bleu.Corpus(Corpus("a b c d"), Corpus("a b d c e"), maxOrder: 2);
        Assert.Equal(100 * Math.Exp(-0.25) / Math.Sqrt(3), bleu, 1e-9);
    }

    [Fact]
    public void Zero_precision_scores_zero()
    {
        Assert.Equal(0.0, Bleu.Corpus(Corpus("a b c"), Corpus("d e f")));
        // Unigrams match but no 4-gram does.
        Assert.Equal(0.0, Bleu.Corpus(Corpus("d c b a"), Corpus("a b c d")));
        // Three tokens have no 4-grams at all.
        Assert.Equal(0.0, Bleu.Corpus(Corpus("a b c"), Corpus("a b c")));
    }

    [Fact]
    public void Empty_hypotheses_score_zero()
    {
        Assert.Equal(0.0, Bleu.Corpus(Corpus(""), Corpus("a b c d")));
        Assert.Equal(0.0, Bleu.Corpus([], []));
    }

    [Fact]
    public void Tokens_are_compared_whole()
    {
        // Joining "a b"+"c" and "a"+"b c" naively would make these bigrams collide.
        IReadOnlyList<string>[] hyp = [["a b", "c"]];
        IReadOnlyList<string>[] reference = [["a", "b c"]];
        Assert.Equal(0.0, Bleu.Corpus(hyp, reference, maxOrder: 1));
    }

    [Fact]
    public void Mismatched_lengths_throw()
    {
        Assert.Throws<ArgumentException>(() => Bleu.Corpus(Corpus("a", "b"), Corpus("a")));
    }
}
