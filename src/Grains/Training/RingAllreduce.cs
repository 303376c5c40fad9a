using System.Runtime.InteropServices;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Grains.Training;

/// <summary>
/// The mean of the workers' gradients computed among themselves around a ring of direct links: N − 1 steps of
/// reduce-scatter (each passes one N-th of the gradient to the next and adds the one from the previous), the
/// finishing worker of each slice makes it the mean, then N − 1 steps of all-gather, each slice followed by its sum
/// of squares. Every link carries 2(N − 1)/N of a gradient per step, whatever N, and every worker ends with the
/// same bytes and the same norm of the mean. In the hierarchical ring the members are silos' leaders, each holding
/// its silo's sum, and the mean divides by every worker, not by the leaders.
/// </summary>
sealed class RingAllreduce : IGradientAllreduce
{
    readonly int rank, size, workers;
    readonly GradientLink? next, previous;
    float[] scratch = [];
    readonly double[] squares;
    readonly DuplexSender sender;

    /// <param name="workers">The gradients summed into the ring's (the mean divides by it): <paramref name="size"/> in a flat ring.</param>
    public RingAllreduce(int rank, int size, int workers, GradientLink? next, GradientLink? previous)
    {
        if (size > 1 && (next is null || previous is null)) throw new ArgumentException("a ring of more than one needs both links");
        (this.rank, this.size, this.workers, this.next, this.previous) = (rank, size, workers, next, previous);
        squares = new double[size];
        sender = new DuplexSender($"ring sender {rank}/{size}");
    }

    /// <inheritdoc/>
    public double Reduce(Span<float> gradient, long step, ClipScope scope, ClipMode mode, double threshold) =>
        Reduce(gradient, step, scope, mode, threshold, late: null);

    /// <summary>
    /// A ring of two under per-worker clipping by norm, started before this worker's factor is known (the encoder's
    /// backward still runs): each half goes out raw, then the two swap their factors, and each scales the half it
    /// kept and the half that arrived before summing them, as if both had been clipped before sending.
    /// </summary>
    public double ReduceScaledLate(Span<float> gradient, long step, Func<float> ownFactor, ClipScope scope, ClipMode mode, double threshold)
    {
        if (size != 2) throw new InvalidOperationException($"only a ring of two scales late, not one of {size}: past the first hop every message holds a sum");
        return Reduce(gradient, step, scope, mode, threshold, ownFactor);
    }

    unsafe double Reduce(Span<float> gradient, long step, ClipScope scope, ClipMode mode, double threshold, Func<float>? late)
    {
        int count = gradient.Length;
        int widest = (count + size - 1) / size + 1;
        if (scratch.Length < widest) scratch = new float[widest];
        fixed (float* values = gradient)
        {
            nint at = (nint)values;
            for (int k = 0; k < size - 1; k++)
            {
                var (start, length) = Slice(count, Around(rank - k - 1));
                Pass(at, count, Around(rank - k), scratch.AsSpan(0, length), step, gather: false);
                if (late is not null)
                {
                    float factor = late();
                    GradientClipping.Scale(gradient.Slice(start, length), factor);
                    GradientClipping.Scale(scratch.AsSpan(0, length), SwapFactor(factor, step));
                }
                GradientAverager.Accumulate(scratch.AsSpan(0, length), gradient.Slice(start, length));
            }
            int own = Around(rank + 1);
            var (ownStart, ownLength) = Slice(count, own);
            squares[own] = GradientAverager.FinishSum(gradient.Slice(ownStart, ownLength), workers, scope, mode, threshold);
            for (int k = 0; k < size - 1; k++)
            {
                var (start, length) = Slice(count, Around(rank - k));
                Pass(at, count, Around(rank + 1 - k), gradient.Slice(start, length), step, gather: true);
            }
        }
        double total = 0;
        foreach (var s in squares) total += s;
        return total;
    }

    /// <summary>
    /// Sends slice <paramref name="slice"/> to the next worker while the previous one's arrives in <paramref name="into"/>;
    /// gathering, each slice's sum of squares follows it.
    /// </summary>
    unsafe void Pass(nint gradient, int count, int slice, Span<float> into, long step, bool gather)
    {
        var (start, length) = Slice(count, slice);
        int arriving = Around(slice - 1);
        fixed (float* target = into)
        {
            nint to = (nint)target;
            int received = into.Length;
            sender.Exchange(next!, () =>
            {
                next!.Send(step, new ReadOnlySpan<byte>((byte*)gradient + start * (long)sizeof(float), length * sizeof(float)));
                if (gather) next!.Send(step, MemoryMarshal.AsBytes(new ReadOnlySpan<double>(in squares[slice])));
            }, () =>
            {
                previous!.Receive(step, new Span<byte>((byte*)to, received * sizeof(float)), "the previous worker of the ring");
                if (gather) previous!.Receive(step, MemoryMarshal.AsBytes(new Span<double>(ref squares[arriving])), "the previous worker of the ring");
            });
        }
    }

    /// <summary>Sends this worker's clipping factor to the next worker and returns the previous one's.</summary>
    float SwapFactor(float own, long step)
    {
        float theirs = 0;
        sender.Exchange(next!, () => next!.Send(step, MemoryMarshal.AsBytes(new ReadOnlySpan<float>(in own))),
            () => previous!.Receive(step, MemoryMarshal.AsBytes(new Span<float>(ref theirs)), "the previous worker of the ring"));
        if (!float.IsFinite(theirs) || theirs is < 0 or > 1) throw new InvalidDataException($"the previous worker of the ring sent a clipping factor of {theirs}, not one in [0, 1]");
        return theirs;
    }

    int Around(int index) => ((index % size) + size) % size;

    (int Start, int Length) Slice(int count, int slice) => Replica.ChunkBounds(count, slice, size);

    /// <summary>Ends the sender thread (the links are the exchange's to close).</summary>
    public void Dispose() => sender.Dispose();
}
