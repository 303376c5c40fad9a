using System.Numerics;
using System.Runtime.InteropServices;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Grains.Training;

/// <summary>
/// The workers' mean by recursive halving and doubling (Rabenseifner): among the largest power of two P of them,
/// log2 P rounds of reduce-scatter, each with the partner whose position differs in one bit, halve the range a worker
/// sums until it owns one P-th; the owner makes it the mean; log2 P rounds of all-gather double it back, each range
/// followed by its slices' sums of squares. Every worker sends 2(P − 1)/P of a gradient, as around a ring, in
/// 2 log2 P messages instead of 2(P − 1). Workers past P first hand their gradient whole to a partner below P and
/// get the mean back from it.
/// </summary>
sealed class HalvingDoublingAllreduce : IGradientAllreduce
{
    readonly int position, size, workers, power;
    // By position of the partner: the link to it, where this one has a partner there.
    readonly IReadOnlyDictionary<int, GradientLink> partners;
    readonly double[] squares;
    readonly double[] total = new double[1];
    float[] scratch = [];
    readonly DuplexSender sender;

    /// <param name="workers">The gradients summed into this allreduce's (the mean divides by it): <paramref name="size"/> when flat.</param>
    public HalvingDoublingAllreduce(int position, int size, int workers, IReadOnlyDictionary<int, GradientLink> partners)
    {
        (this.position, this.size, this.workers, this.partners) = (position, size, workers, partners);
        power = LargestPowerOfTwo(size);
        foreach (int partner in Partners(position, size))
            if (!partners.ContainsKey(partner)) throw new ArgumentException($"position {position} of {size} needs a link to position {partner}");
        squares = new double[power];
        sender = new DuplexSender($"halving-doubling sender {position}/{size}");
    }

    /// <summary>The largest power of two not above <paramref name="size"/>.</summary>
    public static int LargestPowerOfTwo(int size) => 1 << BitOperations.Log2((uint)size);

    /// <summary>The positions <paramref name="position"/> exchanges with: its extra (or, past the power of two, its host) and its partner in each round.</summary>
    public static IEnumerable<int> Partners(int position, int size)
    {
        int power = LargestPowerOfTwo(size);
        if (position >= power)
        {
            yield return position - power;
            yield break;
        }
        if (position + power < size) yield return position + power;
        for (int d = 1; d < power; d <<= 1) yield return position ^ d;
    }

    /// <inheritdoc/>
    public unsafe double Reduce(Span<float> gradient, long step, ClipScope scope, ClipMode mode, double threshold)
    {
        int count = gradient.Length;
        fixed (float* values = gradient)
        {
            nint at = (nint)values;
            if (position >= power)
            {
                // Past the power of two: the host sums this gradient with its own and returns the mean and its squares.
                var host = partners[position - power];
                sender.Exchange(host, () => host.Send(step, Bytes(at, 0, count)), () =>
                {
                    host.Receive(step, Bytes(at, 0, count), "the worker that reduces for this one");
                    host.Receive(step, MemoryMarshal.AsBytes(total.AsSpan()), "the worker that reduces for this one");
                });
                return total[0];
            }
            bool hosts = position + power < size;
            if (scratch.Length < (hosts ? count : count / 2 + power)) scratch = new float[hosts ? count : count / 2 + power];
            if (hosts)
            {
                partners[position + power].Receive(step, MemoryMarshal.AsBytes(scratch.AsSpan(0, count)), "the worker this one reduces for");
                GradientAverager.Accumulate(scratch.AsSpan(0, count), gradient);
            }
            int low = 0, high = power;
            for (int d = power >> 1; d >= 1; d >>= 1)
            {
                int middle = low + (high - low) / 2;
                bool lower = (position & d) == 0;
                var (keepLow, keepHigh) = lower ? (low, middle) : (middle, high);
                var (sendLow, sendHigh) = lower ? (middle, high) : (low, middle);
                var (start, length) = Range(count, keepLow, keepHigh);
                var (sendStart, sendLength) = Range(count, sendLow, sendHigh);
                var partner = partners[position ^ d];
                fixed (float* into = scratch)
                {
                    nint arriving = (nint)into;
                    sender.Exchange(partner, () => partner.Send(step, Bytes(at, sendStart, sendLength)),
                        () => partner.Receive(step, Bytes(arriving, 0, length), "its halving partner"));
                }
                GradientAverager.Accumulate(scratch.AsSpan(0, length), gradient.Slice(start, length));
                (low, high) = (keepLow, keepHigh);
            }
            var (ownStart, ownLength) = Range(count, position, position + 1);
            squares[position] = GradientAverager.FinishSum(gradient.Slice(ownStart, ownLength), workers, scope, mode, threshold);
            for (int d = 1; d < power; d <<= 1)
            {
                var (otherLow, otherHigh) = (position & d) == 0 ? (high, high + d) : (low - d, low);
                var (start, length) = Range(count, low, high);
                var (otherStart, otherLength) = Range(count, otherLow, otherHigh);
                var partner = partners[position ^ d];
                var (sentLow, sentSlices, gotLow) = (low, high - low, otherLow);
                sender.Exchange(partner, () =>
                {
                    partner.Send(step, Bytes(at, start, length));
                    partner.Send(step, MemoryMarshal.AsBytes(squares.AsSpan(sentLow, sentSlices)));
                }, () =>
                {
                    partner.Receive(step, Bytes(at, otherStart, otherLength), "its doubling partner");
                    partner.Receive(step, MemoryMarshal.AsBytes(squares.AsSpan(gotLow, sentSlices)), "its doubling partner");
                });
                (low, high) = (Math.Min(low, otherLow), Math.Max(high, otherHigh));
            }
            total[0] = 0;
            foreach (var s in squares) total[0] += s;
            if (hosts)
            {
                var extra = partners[position + power];
                extra.Send(step, Bytes(at, 0, count));
                extra.Send(step, MemoryMarshal.AsBytes(total.AsSpan()));
            }
        }
        return total[0];
    }

    static unsafe Span<byte> Bytes(nint floats, int start, int length) => new((float*)floats + start, length * sizeof(float));

    /// <summary>Where slices <paramref name="low"/> up to <paramref name="high"/> (of the power of two) lie in a gradient of <paramref name="count"/>.</summary>
    (int Start, int Length) Range(int count, int low, int high)
    {
        int start = Replica.ChunkBounds(count, low, power).Start;
        var (last, length) = Replica.ChunkBounds(count, high - 1, power);
        return (start, last + length - start);
    }

    public void Dispose() => sender.Dispose();
}
