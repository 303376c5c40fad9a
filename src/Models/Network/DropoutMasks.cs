using static TorchSharp.torch;

namespace Distributed.Models.Network;

/// <summary>
/// Dropout masks drawn from the replica's own generator, so a run repeats exactly and a checkpoint
/// (which saves the generator state) resumes exactly. Masks are pre-scaled by 1/(1-p).
/// </summary>
public static class DropoutMasks
{
    /// <summary>One mask per sequence (batch row) over <paramref name="size"/> features: the recurrent (variational) kind.</summary>
    public static Tensor? PerSequence(long batch, long size, double p, Generator generator, bool training)
        => training && p > 0 ? Draw([batch, size], p, generator) : null;

    /// <summary>An ordinary dropout mask drawn ahead, so a fused recurrence and the step loop see the same one.</summary>
    public static Tensor? PerElement(long[] shape, double p, Generator generator, bool training)
        => training && p > 0 ? Draw(shape, p, generator) : null;

    /// <summary>A fresh mask for every element of <paramref name="x"/>, applied: ordinary dropout.</summary>
    public static Tensor Apply(Tensor x, double p, Generator? generator, bool training)
        => training && p > 0 && generator is not null ? x * Draw(x.shape, p, generator) : x;

    static Tensor Draw(long[] shape, double p, Generator generator)
        => empty(shape).bernoulli_(1 - p, generator).div_(1 - p);
}
