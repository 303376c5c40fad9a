using Orleans;
namespace Distributed.Options;

/// <summary>How the learning rate falls after warm-up.</summary>
[GenerateSerializer, Alias("LearningRateDecay")]
public enum LearningRateDecay
{
    /// <summary>Constant after warm-up.</summary>
    None,
    /// <summary>Linearly to MinLearningRate at DecaySteps.</summary>
    Linear,
    /// <summary>Half a cosine to MinLearningRate at DecaySteps.</summary>
    Cosine,
    /// <summary>lr · sqrt(warmup / step) after warm-up (the Transformer schedule).</summary>
    InverseSqrt,
    /// <summary>lr · DecayRate^(steps after warm-up / DecaySteps).</summary>
    Exponential,
}

/// <summary>How a gradient is bounded before it is applied.</summary>
[GenerateSerializer, Alias("ClipMode")]
public enum ClipMode
{
    /// <summary>No clipping.</summary>
    None,
    /// <summary>Scale the whole gradient down when its global L2 norm exceeds the threshold.</summary>
    Norm,
    /// <summary>Clamp every element to [-threshold, threshold].</summary>
    Value,
}

/// <summary>The update rule.</summary>
[GenerateSerializer, Alias("OptimizerKind")]
public enum OptimizerKind
{
    /// <summary>Adam (Kingma and Ba 2015); weight decay, if any, is added to the gradient (L2).</summary>
    Adam,
    /// <summary>Adam with decoupled weight decay (Loshchilov and Hutter 2019).</summary>
    AdamW,
    /// <summary>Stochastic gradient descent with (optionally Nesterov-free) momentum.</summary>
    Sgd,
}

/// <summary>Where clipping happens in data-parallel training.</summary>
[GenerateSerializer, Alias("ClipScope")]
public enum ClipScope
{
    /// <summary>Each worker clips its own gradient; the clipped gradients are averaged (the design's default).</summary>
    PerWorker,
    /// <summary>The average is clipped: N workers then equal one worker on the union batch.</summary>
    Global,
}
