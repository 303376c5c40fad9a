using Distributed.Options;
namespace Distributed.Models.Training;

/// <summary>Linear warm-up from 0 over WarmupSteps, then the chosen decay; a pure function of the step.</summary>
public static class LearningRateSchedule
{
    public static double At(TrainingOptions o, long step)
    {
        // Step counts from 1 inside the formula so the very first update already has a non-zero rate.
        double s = step + 1;
        if (o.WarmupSteps > 0 && s <= o.WarmupSteps) return o.LearningRate * s / o.WarmupSteps;
        double after = s - o.WarmupSteps;
        double span = Math.Max(1, o.DecaySteps);
        double lr = o.Decay switch
        {
            LearningRateDecay.Linear => o.LearningRate - (o.LearningRate - o.MinLearningRate) * Math.Min(1, after / span),
            LearningRateDecay.Cosine => o.MinLearningRate + (o.LearningRate - o.MinLearningRate) * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, after / span))),
            LearningRateDecay.InverseSqrt => o.LearningRate * Math.Sqrt(Math.Max(1, o.WarmupSteps) / Math.Max(s, Math.Max(1, o.WarmupSteps))),
            LearningRateDecay.Exponential => o.LearningRate * Math.Pow(o.DecayRate, after / span),
            _ => o.LearningRate,
        };
        return Math.Max(o.MinLearningRate, lr);
    }
}
