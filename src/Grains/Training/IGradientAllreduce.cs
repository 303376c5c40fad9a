using Distributed.Options;

namespace Distributed.Grains.Training;

/// <summary>The workers' mean computed among themselves over direct links: around a ring, or by recursive halving and doubling.</summary>
interface IGradientAllreduce : IDisposable
{
    /// <summary>
    /// Replaces <paramref name="gradient"/> with the workers' mean (clamped under global clipping by value); returns
    /// the mean's sum of squares before clipping, added up in slice order so that every worker gets the same double.
    /// </summary>
    double Reduce(Span<float> gradient, long step, ClipScope scope, ClipMode mode, double threshold);
}
