using Distributed.Models.Data;
using Distributed.Models.Decoding;
using Distributed.Models.Metrics;
using Distributed.Models.Network;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Distributed.Models.Training;

/// <summary>
/// Held-out metrics. Loss, perplexity and token accuracy are teacher-forced (as OpenNMT reports them);
/// exact match and BLEU-4 come from free decoding (greedy, or beam search when the width is above 1).
/// </summary>
public sealed record EvaluationReport(double Loss, double Perplexity, double TokenAccuracy, double ExactMatch, double Bleu, int Examples);

static class Evaluation
{
    public static EvaluationReport Run(Trainer trainer, IReadOnlyList<EncodedExample> examples, int beamWidth, int batchSize)
    {
        if (examples.Count == 0) throw new ArgumentException("nothing to evaluate", nameof(examples));
        var model = trainer.Model;
        bool wasTraining = model.training;
        model.eval();
        double nll = 0;
        long tokens = 0, correct = 0;
        var hypotheses = new List<IReadOnlyList<string>>();
        var references = new List<IReadOnlyList<string>>();
        try
        {
            for (int start = 0; start < examples.Count; start += batchSize)
            {
                var chunk = examples.Skip(start).Take(batchSize).ToList();
                using (var scope = NewDisposeScope())
                using (no_grad())
                using (var batch = TrainingBatch.From(chunk))
                {
                    var logits = model.Logits(batch.Source, batch.DecoderInputs, 1.0);
                    var flat = logits.reshape(-1, logits.shape[2]);
                    var targets = batch.Targets.reshape(-1);
                    nll += F.cross_entropy(flat, targets, ignore_index: Vocabulary.Pad, reduction: nn.Reduction.Sum).item<float>();
                    var real = targets.ne(Vocabulary.Pad);
                    correct += flat.argmax(1).eq(targets).logical_and(real).sum().item<long>();
                    tokens += batch.TargetTokens;
                    var decoded = Decode(trainer, batch.Source, beamWidth, chunk.Max(e => e.Target.Length) + 2);
                    for (int i = 0; i < chunk.Count; i++)
                    {
                        hypotheses.Add(trainer.Vocabularies.Target.Decode(decoded.Tokens[i]));
                        references.Add(trainer.Vocabularies.Target.Decode(chunk[i].Target));
                    }
                }
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return new EvaluationReport(nll / tokens, SequenceMetrics.Perplexity(nll, tokens), (double)correct / tokens,
            SequenceMetrics.ExactMatch(hypotheses, references), Bleu.Corpus(hypotheses, references), examples.Count);
    }

    public static Decoded Decode(Trainer trainer, SourceBatch source, int beamWidth, int maxLength, bool keepAttention = false) =>
        beamWidth <= 1
            ? GreedyDecoder.Decode(trainer.Model, source, maxLength, keepAttention)
            : BeamSearch.Decode(trainer.Model, source, beamWidth, maxLength, keepAttention: keepAttention);

    /// <summary>One input decoded with its tokens on both sides and the attention over the source at each output step.</summary>
    public static Translation TranslateWithAttention(Trainer trainer, string sourceText, int beamWidth)
    {
        using var scope = NewDisposeScope();
        var encoded = trainer.Vocabularies.EncodeSource(sourceText);
        if (encoded.Length == 0) throw new ArgumentException("the input is empty");
        var decoded = Decode(trainer, SourceBatch.From([encoded]), beamWidth, trainer.Options.MaxDecodeLength, keepAttention: true);
        var ids = decoded.Tokens[0];
        return new Translation(
            trainer.Vocabularies.DecodeTarget(ids),
            trainer.Vocabularies.Source.Decode(encoded),
            trainer.Vocabularies.Target.Decode(ids).Append(Vocabulary.EosToken).ToArray(),
            decoded.Attention?[0] ?? []);
    }

    public static IReadOnlyList<string> Translate(Trainer trainer, IReadOnlyList<string> sources, int beamWidth)
    {
        using var scope = NewDisposeScope();
        var ids = sources.Select(s =>
        {
            var encoded = trainer.Vocabularies.EncodeSource(s);
            if (encoded.Length == 0) throw new ArgumentException("the input is empty");
            return encoded;
        }).ToList();
        var source = SourceBatch.From(ids);
        var decoded = Decode(trainer, source, beamWidth, trainer.Options.MaxDecodeLength);
        return decoded.Tokens.Select(t => trainer.Vocabularies.DecodeTarget(t)).ToList();
    }
}
