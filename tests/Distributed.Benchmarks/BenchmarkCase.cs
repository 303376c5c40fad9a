namespace Distributed.Benchmarks;

/// <summary>A named measurement that returns its one JSON line.</summary>
public sealed record BenchmarkCase(string Name, string Description, Func<string> Run);
