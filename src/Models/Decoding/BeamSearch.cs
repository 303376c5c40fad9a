using TorchSharp;
using Distributed.Models.Data;
using Distributed.Models.Network;
using static TorchSharp.torch;

namespace Distributed.Models.Decoding;

/// <summary>
/// Batched beam search: keeps the <c>width</c> best hypotheses per source row, ranked by log-probability
/// divided by the GNMT length penalty ((5 + length) / 6)^alpha. A hypothesis that emits EOS is kept with its
/// score frozen; the search stops when every kept hypothesis has ended or at the maximum length.
/// Width 1 takes the same tokens as greedy decoding. Rows do not interact, but the floats of one row depend on
/// the batch's shape (GEMM kernels block by it), so a row decoded in a batch matches the row decoded alone where
/// its <see cref="Decoded.Margins"/> exceed float rounding (about 1e-5 here), not bit for bit.
/// </summary>
public static class BeamSearch
{
    public static double LengthPenalty(double length, double alpha) => Math.Pow((5 + length) / 6, alpha);

    public static Decoded Decode(Seq2SeqModel model, SourceBatch source, int width, int maxLength, double alpha = 0.6, bool keepAttention = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            long batch = source.Size, k = width;
            var (memory, states) = model.Encode(source);
            var rows = arange(batch, dtype: ScalarType.Int64).repeat_interleave(k);
            memory = memory.Select(rows);
            states = states.Select(s => s.Select(rows)).ToArray();
            var weights = model.PrepareDecoder();
            int vocabulary = model.TargetVocabulary;

            var tokens = full(batch * k, Vocabulary.Bos, dtype: ScalarType.Int64);
            // Only the first beam of each row is live at the start, so the first step does not pick k copies of one token.
            var scores = full(batch, k, float.NegativeInfinity, dtype: ScalarType.Float64);
            scores.select(1, 0).fill_(0);
            var finished = zeros(batch, k, dtype: ScalarType.Bool);
            var lengths = zeros(batch, k, dtype: ScalarType.Float64);
            var parents = new List<long[]>();
            var chosenTokens = new List<long[]>();
            var attention = new List<float[]>();
            var rowBase = (arange(batch, dtype: ScalarType.Int64) * k).unsqueeze(1);
            var padOnly = full(vocabulary, float.NegativeInfinity, dtype: ScalarType.Float64);
            padOnly[Vocabulary.Pad] = 0.0;
            var margins = full(batch, double.PositiveInfinity, dtype: ScalarType.Float64);

            for (int t = 0; t < maxLength; t++)
            {
                var (logProbs, w, next) = model.DecodeStep(memory, states, tokens, weights);
                var step = TokenMask.ForbidSpecials(logProbs).to(ScalarType.Float64).view(batch, k, vocabulary);
                // An ended hypothesis continues only with PAD at no cost, so it competes with its frozen score.
                step = torch.where(finished.unsqueeze(2), padOnly.view(1, 1, vocabulary), step);
                var candidates = scores.unsqueeze(2) + step;
                var candidateLengths = lengths + finished.logical_not().to(ScalarType.Float64);
                var penalty = ((candidateLengths + 5) / 6).pow(alpha).unsqueeze(2);
                var ranking = (candidates / penalty).view(batch, k * vocabulary);
                // One more than kept, for the gap between the last kept candidate and the first dropped one.
                var (ranked, extended) = ranking.topk((int)k + 1, dim: 1);
                var best = extended.narrow(1, 0, k);
                margins = margins.minimum(Gap(ranked.select(1, k - 1), ranked.select(1, k)));
                var parent = best.div(vocabulary, rounding_mode: RoundingMode.floor);
                var token = best.remainder(vocabulary);
                scores = candidates.view(batch, k * vocabulary).gather(1, best);
                lengths = candidateLengths.gather(1, parent);
                finished = finished.gather(1, parent).logical_or(token.eq(Vocabulary.Eos));

                var flatParent = (rowBase + parent).view(-1);
                states = next.Select(s => s.Select(flatParent)).ToArray();
                tokens = token.view(-1);
                parents.Add(parent.contiguous().data<long>().ToArray());
                chosenTokens.Add(token.contiguous().data<long>().ToArray());
                if (keepAttention && w is not null) attention.Add(w.index_select(0, flatParent).contiguous().data<float>().ToArray());
                if (finished.all().item<bool>()) break;
            }

            var normalised = scores / ((lengths + 5) / 6).pow(alpha);
            var winner = normalised.argmax(1).data<long>().ToArray();
            if (k > 1)
            {
                var (top, _) = normalised.topk(2, dim: 1);
                margins = margins.minimum(Gap(top.select(1, 0), top.select(1, 1)));
            }
            var finalScores = scores.data<double>().ToArray();
            return Backtrack(batch, k, winner, finalScores, parents, chosenTokens, keepAttention ? attention : null, memory.Values.shape[1])
                with { Margins = margins.data<double>().ToArray() };
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>How far <paramref name="kept"/> is ahead of <paramref name="dropped"/>; infinite when nothing live was dropped.</summary>
    static Tensor Gap(Tensor kept, Tensor dropped) =>
        torch.where(dropped.isneginf(), double.PositiveInfinity, kept - dropped);

    static Decoded Backtrack(long batch, long k, long[] winner, double[] scores, List<long[]> parents, List<long[]> tokens,
        List<float[]>? attention, long sourceLength)
    {
        var result = new int[batch][];
        var logProbs = new double[batch];
        var maps = attention is null ? null : new float[batch][][];
        for (int b = 0; b < batch; b++)
        {
            long beam = winner[b];
            logProbs[b] = scores[b * k + beam];
            var ids = new long[tokens.Count];
            var rows = new float[tokens.Count][];
            for (int t = tokens.Count - 1; t >= 0; t--)
            {
                ids[t] = tokens[t][b * k + beam];
                if (attention is not null)
                    rows[t] = attention[t].AsSpan((int)((b * k + beam) * sourceLength), (int)sourceLength).ToArray();
                beam = parents[t][b * k + beam];
            }
            var kept = ids.TakeWhile(id => id != Vocabulary.Eos && id != Vocabulary.Pad).Select(id => (int)id).ToArray();
            result[b] = kept;
            if (maps is not null) maps[b] = rows.Take(Math.Min(rows.Length, kept.Length + 1)).ToArray();
        }
        return new Decoded(result, logProbs, maps);
    }
}
