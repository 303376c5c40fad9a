using Distributed.Models.Data;
using Distributed.Models.Decoding;
using Distributed.Models.Network;
using static TorchSharp.torch;

namespace Distributed.Models.Tests.Model;

public class DecodingTests
{
    const double Alpha = 0.6;

    // Vocabulary of 6: PAD, BOS, EOS, UNK, "a", "b"; decoders never emit PAD or BOS, so 4 choices per step.
    static Seq2SeqModel Tiny(ulong seed) => TinyModels.Model(TinyModels.Options() with { HiddenSize = 10 }, seed, vocabulary: 6);

    [Theory]
    [InlineData(11UL)]
    [InlineData(12UL)]
    [InlineData(13UL)]
    public void Wide_beam_returns_the_best_sequence_of_an_exhaustive_search(ulong seed)
    {
        using var scope = NewDisposeScope();
        using var model = Tiny(seed);
        const int maxLength = 4;
        var source = new[] { 4, 5, 5 };
        var (bestTokens, bestScore) = Exhaustive(model, source, maxLength);

        var beam = BeamSearch.Decode(model, SourceBatch.From([source]), width: 256, maxLength, Alpha);

        Assert.Equal(bestTokens, beam.Tokens[0]);
        int length = Math.Min(bestTokens.Length + 1, maxLength);
        Assert.Equal(bestScore, beam.LogProbabilities[0] / BeamSearch.LengthPenalty(length, Alpha), 4);
    }

    [Fact]
    public void Width_one_takes_the_same_tokens_as_greedy_for_a_whole_batch()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Model(TinyModels.Options(), seed: 21);
        var sources = new[] { TinyModels.Ids("1234"), TinyModels.Ids("98"), TinyModels.Ids("5555555") };
        var greedy = GreedyDecoder.Decode(model, SourceBatch.From(sources), 12);
        var beam = BeamSearch.Decode(model, SourceBatch.From(sources), 1, 12);
        for (int i = 0; i < sources.Length; i++) Assert.Equal(greedy.Tokens[i], beam.Tokens[i]);
        for (int i = 0; i < sources.Length; i++) Assert.Equal(greedy.LogProbabilities[i], beam.LogProbabilities[i], 4);
    }

    // A row's floats depend on the batch's shape (oneDNN blocks its GEMMs by it, one way under AVX2 and another
    // under AVX-512), so bit-equal tokens across batches is not a property anyone has; this is the one we keep.
    const double Rounding = 1e-5;

    [Theory]
    [InlineData(22UL)]
    [InlineData(23UL)]
    public void Batched_beam_search_gives_each_row_what_it_gets_alone_unless_a_near_tie_decided_it(ulong seed)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Model(TinyModels.Options(), seed);
        var sources = new[] { "1234", "98765", "5", "31415926", "777", "1029384756", "24", "86420" }.Select(TinyModels.Ids).ToArray();
        var together = BeamSearch.Decode(model, SourceBatch.From(sources), 4, 10);
        int decided = 0;
        for (int i = 0; i < sources.Length; i++)
        {
            var alone = BeamSearch.Decode(model, SourceBatch.From([sources[i]]), 4, 10);
            if (Math.Min(alone.Margins[0], together.Margins[i]) <= Rounding) continue;
            decided++;
            Assert.Equal(alone.Tokens[0], together.Tokens[i]);
            Assert.Equal(alone.LogProbabilities[0], together.LogProbabilities[i], Rounding);
        }
        // Near-ties are rare; a test that skipped most rows would not be testing batching.
        Assert.True(decided >= sources.Length * 3 / 4, $"only {decided} of {sources.Length} rows were decided by more than {Rounding}");
    }

    [Fact]
    public void Greedy_margins_are_the_smallest_lead_of_the_chosen_token()
    {
        using var scope = NewDisposeScope();
        using var model = Tiny(31);
        var source = new[] { 4, 5, 4 };
        var greedy = GreedyDecoder.Decode(model, SourceBatch.From([source]), 5);

        // The same walk by hand: at each step, the best allowed token's lead over the second.
        model.eval();
        using var _ = no_grad();
        var (memory, states) = model.Encode(SourceBatch.From([source]));
        var weights = model.PrepareDecoder();
        long previous = Vocabulary.Bos;
        double smallest = double.PositiveInfinity;
        for (int t = 0; t < 5; t++)
        {
            var (logProbs, _, next) = model.DecodeStep(memory, states, tensor(new[] { previous }), weights);
            var allowed = new[] { Vocabulary.Eos, Vocabulary.Unk, 4, 5 }.Select(id => (Id: id, LogProb: (double)logProbs[0, id].item<float>()))
                .OrderByDescending(c => c.LogProb).ToArray();
            smallest = Math.Min(smallest, allowed[0].LogProb - allowed[1].LogProb);
            if (allowed[0].Id == Vocabulary.Eos) break;
            previous = allowed[0].Id;
            states = next;
        }
        Assert.Equal(smallest, greedy.Margins[0], 1e-6);
    }

    // Scores every sequence over {EOS, UNK, a, b} up to maxLength by stepping the decoder, like a user would by hand.
    static (int[] Tokens, double Score) Exhaustive(Seq2SeqModel model, int[] source, int maxLength)
    {
        model.eval();
        using var _ = no_grad();
        var (memory, initial) = model.Encode(SourceBatch.From([source]));
        var weights = model.PrepareDecoder();
        int[] choices = [Vocabulary.Eos, Vocabulary.Unk, 4, 5];
        (int[] Tokens, double Score) best = ([], double.NegativeInfinity);

        void Walk(List<int> prefix, RnnState[] states, long previous, double logProb)
        {
            var (logProbs, _, next) = model.DecodeStep(memory, states, tensor(new[] { previous }), weights);
            foreach (var token in choices)
            {
                double total = logProb + logProbs[0, token].item<float>();
                int length = prefix.Count + 1;
                if (token == Vocabulary.Eos || length == maxLength)
                {
                    double score = total / Math.Pow((5.0 + length) / 6, Alpha);
                    var tokens = token == Vocabulary.Eos ? prefix.ToArray() : prefix.Append(token).ToArray();
                    if (score > best.Score) best = (tokens, score);
                    continue;
                }
                Walk(prefix.Append(token).ToList(), next, token, total);
            }
        }

        Walk([], initial, Vocabulary.Bos, 0);
        return best;
    }
}
