using System.Text;

namespace Distributed.Models.Metrics;

/// <summary>Corpus-level BLEU (Papineni et al. 2002) over already tokenised text.</summary>
public static class Bleu
{
    /// <summary>
    /// BLEU in [0, 100]: clipped n-gram matches summed over the corpus for n = 1..<paramref name="maxOrder"/>,
    /// geometric mean of the precisions with uniform weights, times the brevity penalty exp(1 - r/c) when c ≤ r.
    /// One reference per hypothesis. 0 when any precision is 0 or the hypotheses are empty.
    /// </summary>
    public static double Corpus(IReadOnlyList<IReadOnlyList<string>> hypotheses, IReadOnlyList<IReadOnlyList<string>> references, int maxOrder = 4)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOrder, 1);
        if (hypotheses.Count != references.Count)
            throw new ArgumentException($"{hypotheses.Count} hypotheses but {references.Count} references", nameof(references));

        var matches = new long[maxOrder];
        var totals = new long[maxOrder];
        long hypothesisLength = 0, referenceLength = 0;
        for (var s = 0; s < hypotheses.Count; s++)
        {
            var hypothesis = hypotheses[s];
            var reference = references[s];
            hypothesisLength += hypothesis.Count;
            referenceLength += reference.Count;
            for (var n = 1; n <= maxOrder; n++)
            {
                var referenceCounts = Count(reference, n);
                foreach (var (gram, count) in Count(hypothesis, n))
                    matches[n - 1] += Math.Min(count, referenceCounts.GetValueOrDefault(gram));
                totals[n - 1] += Math.Max(0, hypothesis.Count - n + 1);
            }
        }

        if (hypothesisLength == 0) return 0;
        var logPrecisionSum = 0.0;
        for (var n = 0; n < maxOrder; n++)
        {
            if (matches[n] == 0) return 0;
            logPrecisionSum += Math.Log((double)matches[n] / totals[n]);
        }
        var brevityPenalty = hypothesisLength > referenceLength
            ? 1.0
            : Math.Exp(1.0 - (double)referenceLength / hypothesisLength);
        return Math.Clamp(100.0 * brevityPenalty * Math.Exp(logPrecisionSum / maxOrder), 0, 100);
    }

    private static Dictionary<string, int> Count(IReadOnlyList<string> tokens, int order)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var key = new StringBuilder();
        for (var start = 0; start + order <= tokens.Count; start++)
        {
            key.Clear();
            // Length-prefixing each token keeps "a b"+"c" and "a"+"b c" apart whatever the tokens contain.
            for (var i = start; i < start + order; i++) key.Append(tokens[i].Length).Append(':').Append(tokens[i]);
            var gram = key.ToString();
            counts[gram] = counts.GetValueOrDefault(gram) + 1;
        }
        return counts;
    }
}
