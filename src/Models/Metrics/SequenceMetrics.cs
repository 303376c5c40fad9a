namespace Distributed.Models.Metrics;

/// <summary>Per-token and per-sequence scores of decoded outputs against references.</summary>
public static class SequenceMetrics
{
    /// <summary>Fraction of hypotheses equal to their reference token for token; 1 for an empty corpus.</summary>
    public static double ExactMatch(IReadOnlyList<IReadOnlyList<string>> hyps, IReadOnlyList<IReadOnlyList<string>> refs)
    {
        CheckPaired(hyps, refs);
        if (hyps.Count == 0) return 1.0;
        var equal = 0;
        for (var i = 0; i < hyps.Count; i++)
        {
            if (hyps[i].SequenceEqual(refs[i], StringComparer.Ordinal)) equal++;
        }
        return (double)equal / hyps.Count;
    }

    /// <summary>
    /// Tokens equal at the same position, over the sum of max(hypothesis length, reference length), so missing and
    /// extra tokens both count as wrong; 1 when every sequence is empty.
    /// </summary>
    public static double PositionAccuracy(IReadOnlyList<IReadOnlyList<string>> hyps, IReadOnlyList<IReadOnlyList<string>> refs)
    {
        CheckPaired(hyps, refs);
        long correct = 0, positions = 0;
        for (var i = 0; i < hyps.Count; i++)
        {
            var hyp = hyps[i];
            var reference = refs[i];
            var shared = Math.Min(hyp.Count, reference.Count);
            for (var t = 0; t < shared; t++)
            {
                if (string.Equals(hyp[t], reference[t], StringComparison.Ordinal)) correct++;
            }
            positions += Math.Max(hyp.Count, reference.Count);
        }
        return positions == 0 ? 1.0 : (double)correct / positions;
    }

    /// <summary>exp(<paramref name="totalNll"/> / <paramref name="tokenCount"/>), with the NLL in nats summed over the tokens.</summary>
    public static double Perplexity(double totalNll, long tokenCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokenCount);
        return Math.Exp(totalNll / tokenCount);
    }

    private static void CheckPaired(IReadOnlyList<IReadOnlyList<string>> hyps, IReadOnlyList<IReadOnlyList<string>> refs)
    {
        ArgumentNullException.ThrowIfNull(hyps);
        ArgumentNullException.ThrowIfNull(refs);
        if (hyps.Count != refs.Count)
            throw new ArgumentException($"{hyps.Count} hypotheses but {refs.Count} references", nameof(refs));
    }
}
