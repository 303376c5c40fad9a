namespace Distributed.Grains.Training;

/// <summary>
/// The workers of one run that share a silo, summing their gradients in its memory (the hierarchical ring): each
/// member lends its flat gradient to the leader and waits; the leader adds them to its own, rings with the other
/// silos' leaders, and writes the mean back into every member still waiting before it lets them go. The leader
/// touches a member's memory only under the lock while that member waits, so a member that gave up is never written.
/// </summary>
sealed class SiloGroup(int size)
{
    readonly object gate = new();
    readonly nint[] lent = new nint[size];
    readonly int[] lengths = new int[size];
    // The step each member lent its gradient for (-1: none, or it stopped waiting).
    readonly long[] lentAt = Enumerable.Repeat(-1L, size).ToArray();
    long doneAt = -1;
    double squares;
    Exception? broken;

    public int Size => size;

    /// <summary>
    /// A member's part: lends <paramref name="gradient"/> for <paramref name="step"/> and waits until the leader has
    /// written the mean into it; returns the mean's sum of squares.
    /// </summary>
    public unsafe double Lend(int index, Span<float> gradient, long step, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        fixed (float* values = gradient)
            lock (gate)
            {
                Check();
                (lent[index], lengths[index], lentAt[index]) = ((nint)values, gradient.Length, step);
                Monitor.PulseAll(gate);
                try
                {
                    while (doneAt < step)
                    {
                        Check();
                        if (!Monitor.Wait(gate, Remaining(deadline)))
                            throw new TimeoutException($"the silo's ring leader did not hand back the mean of step {step + 1} within {timeout.TotalSeconds:0.###} s");
                    }
                    return squares;
                }
                finally
                {
                    lentAt[index] = -1;
                }
            }
    }

    /// <summary>The leader's first part: waits for every member's gradient of <paramref name="step"/> and adds them into <paramref name="sum"/>.</summary>
    public unsafe void Gather(Span<float> sum, long step, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (gate)
        {
            for (int member = 1; member < size; member++)
                while (lentAt[member] != step)
                {
                    Check();
                    if (!Monitor.Wait(gate, Remaining(deadline)))
                        throw new TimeoutException($"worker {member} of this silo's group did not lend its gradient of step {step + 1} within {timeout.TotalSeconds:0.###} s");
                }
            for (int member = 1; member < size; member++)
            {
                if (lengths[member] != sum.Length) throw new InvalidOperationException($"a member's gradient has {lengths[member]} values, the leader's {sum.Length}");
                Models.Training.GradientAverager.Accumulate(new ReadOnlySpan<float>((float*)lent[member], lengths[member]), sum);
            }
        }
    }

    /// <summary>The leader's last part: copies the mean into every member still waiting for <paramref name="step"/> and lets them go.</summary>
    public unsafe void Hand(ReadOnlySpan<float> mean, long step, double meanSquares)
    {
        lock (gate)
        {
            for (int member = 1; member < size; member++)
                if (lentAt[member] == step) mean.CopyTo(new Span<float>((float*)lent[member], lengths[member]));
            (doneAt, squares) = (step, meanSquares);
            Monitor.PulseAll(gate);
        }
    }

    /// <summary>Ends the group: every member waiting, now or later, fails with <paramref name="reason"/>.</summary>
    public void Break(Exception reason)
    {
        lock (gate)
        {
            broken ??= reason;
            Monitor.PulseAll(gate);
        }
    }

    void Check()
    {
        if (broken is { } reason) throw new IOException($"this silo's ring group is broken: {reason.Message}", reason);
    }

    static TimeSpan Remaining(DateTime deadline) => deadline - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;
}
