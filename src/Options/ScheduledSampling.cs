using Orleans;
namespace Distributed.Options;

/// <summary>How the probability of feeding the ground truth decays with the training step (Bengio et al. 2015).</summary>
[GenerateSerializer, Alias("SamplingSchedule")]
public enum SamplingSchedule
{
    /// <summary>ε = Initial at every step; Initial = 1 is plain teacher forcing.</summary>
    Constant,
    /// <summary>ε_i = max(Minimum, Initial − Slope·i).</summary>
    Linear,
    /// <summary>ε_i = max(Minimum, Decay^i), Decay &lt; 1.</summary>
    Exponential,
    /// <summary>ε_i = max(Minimum, Decay / (Decay + exp(i / Decay))), Decay ≥ 1.</summary>
    InverseSigmoid,
}

/// <summary>Teacher forcing and scheduled sampling: the probability of feeding the ground truth at a step.</summary>
[GenerateSerializer, Immutable, Alias("ScheduledSampling")]
public sealed record ScheduledSampling
{
    [Id(0)] public SamplingSchedule Schedule { get; init; } = SamplingSchedule.Constant;
    /// <summary>k of the constant and linear schedules: the probability at step 0.</summary>
    [Id(1)] public double Initial { get; init; } = 1.0;
    /// <summary>c of the linear schedule: how much the probability falls per step.</summary>
    [Id(2)] public double Slope { get; init; } = 1e-4;
    /// <summary>k of the exponential (0 &lt; k &lt; 1) and inverse sigmoid (k ≥ 1) schedules.</summary>
    [Id(3)] public double Decay { get; init; } = 0.999;
    /// <summary>ε_min: the probability never falls below this.</summary>
    [Id(4)] public double Minimum { get; init; }

    /// <summary>Probability of feeding the ground truth at training step <paramref name="step"/> (0-based).</summary>
    public double TeacherProbability(long step) => Schedule switch
    {
        SamplingSchedule.Constant => Initial,
        SamplingSchedule.Linear => Math.Max(Minimum, Initial - Slope * step),
        SamplingSchedule.Exponential => Math.Max(Minimum, Math.Pow(Decay, step)),
        _ => Math.Max(Minimum, Decay / (Decay + Math.Exp(step / Decay))),
    };

    public IReadOnlyList<string> Validate(string prefix)
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Enum.IsDefined(Schedule), "schedule", "must be constant, linear, exponential or inverseSigmoid");
        errors.Check(Initial is >= 0 and <= 1, "initial", "must be in [0, 1]");
        errors.Check(Slope >= 0 && double.IsFinite(Slope), "slope", "must be finite and >= 0");
        errors.Check(Minimum is >= 0 and <= 1, "minimum", "must be in [0, 1]");
        errors.Check(Schedule != SamplingSchedule.Exponential || Decay is > 0 and < 1, "decay", "must be in (0, 1) for the exponential schedule");
        errors.Check(Schedule != SamplingSchedule.InverseSigmoid || Decay >= 1 && double.IsFinite(Decay), "decay", "must be finite and >= 1 for the inverse sigmoid schedule");
        return errors.List;
    }
}
