using TorchSharp;
using Distributed.Models.Data;
using Distributed.Models.Network;
using static TorchSharp.torch;

namespace Distributed.Models.Decoding;

/// <summary>Takes the most probable token at every step until EOS or the maximum length.</summary>
public static class GreedyDecoder
{
    public static Decoded Decode(Seq2SeqModel model, SourceBatch source, int maxLength, bool keepAttention = false)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            long batch = source.Size;
            var (memory, states) = model.Encode(source);
            var weights = model.PrepareDecoder();
            var tokens = full(batch, Vocabulary.Bos, dtype: ScalarType.Int64);
            var finished = zeros(batch, dtype: ScalarType.Bool);
            var score = zeros(batch, dtype: ScalarType.Float64);
            var margins = full(batch, double.PositiveInfinity, dtype: ScalarType.Float64);
            var steps = new List<long[]>();
            var attention = new List<float[]>();
            for (int t = 0; t < maxLength; t++)
            {
                var (logProbs, w, next) = model.DecodeStep(memory, states, tokens, weights);
                states = next;
                logProbs = TokenMask.ForbidSpecials(logProbs);
                var chosen = logProbs.argmax(1);
                // The lead of the chosen token over the next: below float rounding, another batch may choose the other.
                var (top, _) = logProbs.topk(2, dim: 1);
                var lead = (top.select(1, 0) - top.select(1, 1)).to(ScalarType.Float64);
                margins = torch.where(finished, margins, margins.minimum(lead));
                score += torch.where(finished, 0.0, logProbs.gather(1, chosen.unsqueeze(1)).squeeze(1).to(ScalarType.Float64));
                chosen = torch.where(finished, (long)Vocabulary.Pad, chosen);
                steps.Add(chosen.data<long>().ToArray());
                if (keepAttention && w is not null) attention.Add(w.contiguous().data<float>().ToArray());
                finished = finished.logical_or(chosen.eq(Vocabulary.Eos));
                tokens = chosen;
                if (finished.all().item<bool>()) break;
            }
            return Collect(batch, steps, score.data<double>().ToArray(), keepAttention ? attention : null, memory.Values.shape[1])
                with { Margins = margins.data<double>().ToArray() };
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    static Decoded Collect(long batch, List<long[]> steps, double[] scores, List<float[]>? attention, long sourceLength)
    {
        var result = new int[batch][];
        var maps = attention is null ? null : new float[batch][][];
        for (int b = 0; b < batch; b++)
        {
            var ids = new List<int>();
            foreach (var step in steps)
            {
                if (step[b] == Vocabulary.Eos || step[b] == Vocabulary.Pad) break;
                ids.Add((int)step[b]);
            }
            result[b] = ids.ToArray();
            if (maps is not null)
            {
                int rows = Math.Min(steps.Count, ids.Count + 1);
                maps[b] = new float[rows][];
                for (int t = 0; t < rows; t++) maps[b][t] = attention![t].AsSpan((int)(b * sourceLength), (int)sourceLength).ToArray();
            }
        }
        return new Decoded(result, scores, maps);
    }
}

/// <summary>PAD and BOS are never predictions: decoders give them probability zero.</summary>
static class TokenMask
{
    public static Tensor ForbidSpecials(Tensor logProbs)
    {
        logProbs = logProbs.clone();
        logProbs.select(1, Vocabulary.Pad).fill_(float.NegativeInfinity);
        logProbs.select(1, Vocabulary.Bos).fill_(float.NegativeInfinity);
        return logProbs;
    }
}
