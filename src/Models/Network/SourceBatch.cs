using static TorchSharp.torch;

namespace Distributed.Models.Network;

/// <summary>
/// Source token ids (batch, time) padded with <c>Vocabulary.Pad</c>, with lengths. <see cref="Padding"/> and
/// <see cref="Lengths"/> are null when every sequence has the same length, which lets the fused kernels run unpacked.
/// </summary>
public sealed record SourceBatch(Tensor Tokens, Tensor? Lengths, Tensor? Padding)
{
    public long Size => Tokens.shape[0];

    /// <summary>Pads <paramref name="sequences"/> into one batch.</summary>
    public static SourceBatch From(IReadOnlyList<int[]> sequences)
    {
        int batch = sequences.Count;
        int time = sequences.Max(s => s.Length);
        var ids = new long[batch * time];
        var lengths = new long[batch];
        bool padded = false;
        for (int b = 0; b < batch; b++)
        {
            var s = sequences[b];
            if (s.Length == 0) throw new ArgumentException($"source sequence {b} is empty", nameof(sequences));
            lengths[b] = s.Length;
            padded |= s.Length != time;
            for (int t = 0; t < s.Length; t++) ids[b * time + t] = s[t];
        }
        var tokens = tensor(ids, [batch, time]);
        if (!padded) return new SourceBatch(tokens, null, null);
        var lengthTensor = tensor(lengths);
        var padding = arange(time, dtype: ScalarType.Int64).unsqueeze(0) >= lengthTensor.unsqueeze(1);
        return new SourceBatch(tokens, lengthTensor, padding);
    }

    /// <summary>Every row repeated <paramref name="times"/> times in place (row b becomes rows b*times..), for beams.</summary>
    public SourceBatch Repeat(int times) => new(
        Tokens.repeat_interleave(times, 0), Lengths?.repeat_interleave(times, 0), Padding?.repeat_interleave(times, 0));
}
