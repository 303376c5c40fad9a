namespace Distributed.Grains.Abstractions.Sweeps;

/// <summary>One swept option's value in a trial, as the results tables show it.</summary>
[GenerateSerializer, Immutable, Alias("FactorValue")]
public sealed record FactorValue([property: Id(0)] string Factor, [property: Id(1)] string Value);
