using Distributed.Models.Data;
using Distributed.Models.Network;
using static TorchSharp.torch;

namespace Distributed.Models.Training;

/// <summary>
/// One batch as tensors: padded sources, decoder inputs (BOS + target) and targets (target + EOS), both padded
/// with PAD, which the loss ignores.
/// </summary>
public sealed record TrainingBatch(SourceBatch Source, Tensor DecoderInputs, Tensor Targets, long TargetTokens) : IDisposable
{
    public int Size => (int)Source.Size;

    public static TrainingBatch From(IReadOnlyList<EncodedExample> examples)
    {
        if (examples.Count == 0) throw new ArgumentException("a batch needs at least one example", nameof(examples));
        var source = SourceBatch.From(examples.Select(e => e.Source).ToList());
        int batch = examples.Count;
        int time = examples.Max(e => e.Target.Length) + 1;
        var inputs = new long[batch * time];
        var targets = new long[batch * time];
        long tokens = 0;
        for (int b = 0; b < batch; b++)
        {
            var t = examples[b].Target;
            inputs[b * time] = Vocabulary.Bos;
            for (int i = 0; i < t.Length; i++)
            {
                inputs[b * time + i + 1] = t[i];
                targets[b * time + i] = t[i];
            }
            targets[b * time + t.Length] = Vocabulary.Eos;
            tokens += t.Length + 1;
        }
        return new TrainingBatch(source, tensor(inputs, [batch, time]), tensor(targets, [batch, time]), tokens);
    }

    public void Dispose()
    {
        Source.Tokens.Dispose();
        Source.Lengths?.Dispose();
        Source.Padding?.Dispose();
        DecoderInputs.Dispose();
        Targets.Dispose();
    }
}
