using Orleans;

namespace Distributed.Options;

/// <summary>What a training loss is divided by.</summary>
[GenerateSerializer, Alias("LossNormalization")]
public enum LossNormalization
{
    /// <summary>Mean over non-padding target tokens.</summary>
    Tokens,
    /// <summary>Sum over tokens divided by the number of sequences: N workers then equal one worker on the union batch whatever the lengths.</summary>
    Sequences,
}

/// <summary>How one replica trains: optimizer, learning-rate schedule, clipping, loss, teacher forcing. Validated at start.</summary>
[GenerateSerializer, Immutable, Alias("TrainingOptions")]
public sealed record TrainingOptions
{
    [Id(0)] public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;
    [Id(1)] public double LearningRate { get; init; } = 1e-3;
    [Id(2)] public double MinLearningRate { get; init; }
    [Id(3)] public int WarmupSteps { get; init; }
    [Id(4)] public LearningRateDecay Decay { get; init; } = LearningRateDecay.None;
    /// <summary>Length of the linear/cosine decay, or the period of the exponential one.</summary>
    [Id(5)] public int DecaySteps { get; init; } = 1000;
    /// <summary>Factor per DecaySteps of the exponential decay.</summary>
    [Id(6)] public double DecayRate { get; init; } = 0.5;
    [Id(7)] public double Beta1 { get; init; } = 0.9;
    [Id(8)] public double Beta2 { get; init; } = 0.999;
    [Id(9)] public double Epsilon { get; init; } = 1e-8;
    /// <summary>SGD momentum.</summary>
    [Id(10)] public double Momentum { get; init; } = 0.9;
    /// <summary>L2 (Adam, SGD) or decoupled (AdamW) weight decay.</summary>
    [Id(11)] public double WeightDecay { get; init; }
    [Id(12)] public ClipMode Clip { get; init; } = ClipMode.Norm;
    [Id(13)] public double ClipThreshold { get; init; } = 1.0;
    [Id(14)] public double LabelSmoothing { get; init; }
    [Id(15)] public LossNormalization LossNormalization { get; init; } = LossNormalization.Tokens;
    [Id(16)] public ScheduledSampling TeacherForcing { get; init; } = new();
    [Id(17)] public int BatchSize { get; init; } = 64;
    /// <summary>Group examples of similar source length into batches, to pad less.</summary>
    [Id(18)] public bool BucketByLength { get; init; } = true;
    /// <summary>Longest output when decoding for evaluation.</summary>
    [Id(19)] public int MaxDecodeLength { get; init; } = 64;

    /// <summary>Every problem, each naming its field; empty when valid.</summary>
    public IReadOnlyList<string> Validate(string prefix = "training")
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Enum.IsDefined(Optimizer), "optimizer", "must be adam, adamw or sgd");
        errors.Check(LearningRate > 0 && double.IsFinite(LearningRate), "learningRate", "must be > 0");
        errors.Check(MinLearningRate >= 0 && MinLearningRate <= LearningRate, "minLearningRate", "must be in [0, learningRate]");
        errors.Check(WarmupSteps is >= 0 and <= OptionLimits.MaxSteps, "warmupSteps", $"must be 0..{OptionLimits.MaxSteps}");
        errors.Check(Enum.IsDefined(Decay), "decay", "must be none, linear, cosine, inverseSqrt or exponential");
        errors.Check(DecaySteps is >= 1 and <= OptionLimits.MaxSteps, "decaySteps", $"must be 1..{OptionLimits.MaxSteps}");
        errors.Check(DecayRate is > 0 and <= 1, "decayRate", "must be in (0, 1]");
        errors.Check(Beta1 is >= 0 and < 1, "beta1", "must be in [0, 1)");
        errors.Check(Beta2 is >= 0 and < 1, "beta2", "must be in [0, 1)");
        errors.Check(Epsilon is > 0 and <= 1, "epsilon", "must be in (0, 1]");
        errors.Check(Momentum is >= 0 and < 1, "momentum", "must be in [0, 1)");
        errors.Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), "weightDecay", "must be finite and >= 0");
        errors.Check(Enum.IsDefined(Clip), "clip", "must be none, norm or value");
        errors.Check(Clip == ClipMode.None || (ClipThreshold > 0 && double.IsFinite(ClipThreshold)), "clipThreshold", "must be > 0");
        errors.Check(LabelSmoothing is >= 0 and < 1, "labelSmoothing", "must be in [0, 1)");
        errors.Check(Enum.IsDefined(LossNormalization), "lossNormalization", "must be tokens or sequences");
        errors.Check(BatchSize is >= 1 and <= 65536, "batchSize", "must be 1..65536");
        errors.Check(MaxDecodeLength is >= 1 and <= 4096, "maxDecodeLength", "must be 1..4096");
        errors.Check(TeacherForcing is not null, "teacherForcing", "is required");
        if (TeacherForcing is not null) errors.Add(TeacherForcing.Validate(OptionErrors.Child(prefix, "teacherForcing")));
        return errors.List;
    }

    public TrainingOptions EnsureValid()
    {
        return OptionErrors.EnsureValid(this, Validate());
    }
}
