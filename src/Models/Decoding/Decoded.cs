namespace Distributed.Models.Decoding;

/// <summary>
/// Decoded target ids per source row (without BOS/EOS), each hypothesis's total log-probability, and
/// optionally the attention weights [target step][source position] of the chosen hypothesis.
/// </summary>
public sealed record Decoded(IReadOnlyList<int[]> Tokens, IReadOnlyList<double> LogProbabilities, IReadOnlyList<float[][]>? Attention)
{
    /// <summary>
    /// Per row, the smallest score gap that decided its result: between the last kept and the first dropped
    /// candidate at any step, and between the winner and the runner-up at the end. Float rounding differs with
    /// batch shape and CPU (oneDNN's AVX-512 kernels, for one), so a row's tokens are reproducible across batches
    /// and machines only where this margin exceeds that rounding; below it the search broke a near-tie.
    /// </summary>
    public IReadOnlyList<double> Margins { get; init; } = [];
}
