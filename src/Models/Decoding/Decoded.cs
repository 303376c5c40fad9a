namespace Distributed.Models.Decoding;

/// <summary>
/// Decoded target ids per source row (without BOS/EOS), each hypothesis's total log-probability, and
/// optionally the attention weights [target step][source position] of the chosen hypothesis.
/// </summary>
public sealed record Decoded(IReadOnlyList<int[]> Tokens, IReadOnlyList<double> LogProbabilities, IReadOnlyList<float[][]>? Attention);
