namespace Distributed.Grains.Abstractions.Sweeps;

/// <summary>One trial's objective at one evaluation step.</summary>
[GenerateSerializer, Immutable, Alias("TrialPoint")]
public readonly record struct TrialPoint([property: Id(0)] int Trial, [property: Id(1)] long Step, [property: Id(2)] double Value);
