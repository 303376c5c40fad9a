using System.Globalization;
using Distributed.Options;

namespace Distributed.Grains.Abstractions.Training;

/// <summary>
/// What one replica of a trial holds at its peak, in bytes: weights, gradients (with the flat exchange buffers),
/// optimizer state, the activations autograd keeps for one training step at the per-worker batch and the longest
/// sequences the data allows, the loaded data set, and a fixed share for the replica's thread and libtorch.
/// An upper estimate from the options alone, so a silo can refuse a trial before it allocates anything.
/// </summary>
[GenerateSerializer, Immutable, Alias("ReplicaMemory")]
public sealed record ReplicaMemory(
    [property: Id(0)] long Parameters,
    [property: Id(1)] long Gradients,
    [property: Id(2)] long OptimizerState,
    [property: Id(3)] long Activations,
    [property: Id(4)] long Dataset,
    [property: Id(5)] long Runtime)
{
    /// <summary>Threads, allocator slack and libtorch's per-replica workspaces, measured at about 20-30 MB here.</summary>
    public const long RuntimeBytes = 48L << 20;
    /// <summary>Tokens of a built-in task's longest target beside its source length (addition and dates write more).</summary>
    const int BuiltInTargetSlack = 16;
    /// <summary>Symbols a built-in task's vocabulary has at most (digits, letters of month names, specials).</summary>
    const int BuiltInSymbols = 64;
    /// <summary>Distinct characters the estimate allows a character-level TSV corpus (scripts with more are rare).</summary>
    public const int CharacterSymbols = 1024;

    public long Total => Parameters + Gradients + OptimizerState + Activations + Dataset + Runtime;

    /// <summary>The estimate for one replica of <paramref name="spec"/>; <paramref name="datasetBytes"/> is the TSV file's size when known.</summary>
    public static ReplicaMemory Of(TrialSpec spec, long? datasetBytes = null)
    {
        var m = spec.Model;
        var d = spec.Data;
        // A TSV file's vocabulary is known once read: words count as the cap, characters as at most CharacterSymbols.
        long vocabulary = d.TsvPath is null ? BuiltInSymbols
            : d.Tokenization == TokenizationKind.Character ? Math.Min(d.MaxVocabulary, CharacterSymbols) : d.MaxVocabulary;
        long parameters = ParameterCount(m, vocabulary, vocabulary);
        long floats = parameters * sizeof(float);
        int optimizerSlots = spec.Training.Optimizer == OptimizerKind.Sgd ? (spec.Training.Momentum > 0 ? 1 : 0) : 2;

        long batch = (spec.Training.BatchSize + spec.Parallel.Workers - 1) / spec.Parallel.Workers;
        // A TSV file's lengths are known only once a silo reads it: its sequences count as long as the longest output decoded.
        long source = d.TsvPath is null ? d.MaxLength : Math.Min(d.MaxLineLength, spec.Training.MaxDecodeLength);
        long target = d.TsvPath is null ? d.MaxLength + BuiltInTargetSlack : Math.Min(d.MaxLineLength, spec.Training.MaxDecodeLength);
        long activations = Bytes(2.0 * batch * StepFloats(m, source, target, vocabulary) * sizeof(float));
        long dataset = d.TsvPath is null
            ? Bytes((double)d.Examples * (source + target) * 12)
            : Bytes((datasetBytes ?? 0) * 6.0);
        // Gradients live in the parameters' .grad and in the flat buffer the exchange reads and writes.
        return new ReplicaMemory(floats, Bytes(3.0 * floats), Bytes((double)optimizerSlots * floats), activations, dataset, RuntimeBytes);
    }

    /// <summary>Weights of the encoder, bridge, attention, decoder and output layer, as Seq2SeqModel builds them.</summary>
    public static long ParameterCount(ModelOptions m, long sourceVocabulary, long targetVocabulary)
    {
        long gates = Gates(m.Cell), h = m.HiddenSize, e = m.EmbeddingSize, encoderOut = m.EncoderOutputSize;
        int directions = m.Bidirectional ? 2 : 1;
        long count = sourceVocabulary * e + targetVocabulary * e;
        for (int l = 0; l < m.Layers; l++)
        {
            long input = l == 0 ? e : encoderOut;
            // Layer norm adds a gain and a bias over the gates of both the input and the hidden transform.
            long norms = m.LayerNorm ? 4 * gates * h : 0;
            count += directions * (gates * h * (input + h) + 2 * gates * h + norms);
            count += (encoderOut + 1) * h * (m.Cell == CellKind.Lstm ? 2 : 1);
            long decoderInput = l == 0 ? e + (m.Attention == AttentionKind.None ? 0 : encoderOut) : h;
            count += gates * h * (decoderInput + h) + 2 * gates * h + norms;
        }
        long attention = m.AttentionSize > 0 ? m.AttentionSize : h;
        count += m.Attention switch
        {
            AttentionKind.Additive => encoderOut * attention + h * attention + attention,
            AttentionKind.Multiplicative => h * encoderOut,
            _ => 0,
        };
        long features = h + (m.Attention == AttentionKind.None ? 0 : encoderOut);
        return count + features * targetVocabulary + targetVocabulary;
    }

    /// <summary>Floats autograd keeps per batch row for one step: states and gates per position and layer, attention, logits.</summary>
    static double StepFloats(ModelOptions m, double source, double target, double vocabulary)
    {
        double h = m.HiddenSize, kept = Gates(m.Cell) + 4;
        int directions = m.Bidirectional ? 2 : 1;
        double attention = m.Attention == AttentionKind.Additive ? (m.AttentionSize > 0 ? m.AttentionSize : h) + 2 : 2;
        return source * m.Layers * directions * kept * h
            + target * m.Layers * kept * h
            + (m.Attention == AttentionKind.None ? 0 : target * source * attention + target * m.EncoderOutputSize)
            + target * vocabulary * 3;
    }

    static long Gates(CellKind cell) => cell switch { CellKind.Lstm => 4, CellKind.Gru => 3, _ => 1 };

    // Sizes are worked out in doubles so absurd options saturate instead of wrapping round.
    static long Bytes(double value) => value >= long.MaxValue / 2 ? long.MaxValue / 2 : (long)value;

    /// <summary>What to shrink: the options behind the largest share of the estimate.</summary>
    public string Shrink(TrialSpec spec)
    {
        var shares = new (long Bytes, string Options)[]
        {
            (Activations, spec.Data.TsvPath is null
                ? $"training.batchSize ({spec.Training.BatchSize}) or data.maxLength ({spec.Data.MaxLength})"
                : $"training.batchSize ({spec.Training.BatchSize}) or training.maxDecodeLength ({spec.Training.MaxDecodeLength})"),
            (Parameters + Gradients + OptimizerState, spec.Data.TsvPath is null
                ? $"model.hiddenSize ({spec.Model.HiddenSize}) or model.layers ({spec.Model.Layers})"
                : $"model.hiddenSize ({spec.Model.HiddenSize}) or data.maxVocabulary ({spec.Data.MaxVocabulary})"),
            (Dataset, spec.Data.TsvPath is null ? $"data.examples ({spec.Data.Examples})" : "the TSV file"),
        };
        return shares.MaxBy(s => s.Bytes).Options;
    }

    /// <summary>"1.5 GiB", "320 MiB": how messages and tables show a size.</summary>
    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.#", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0", CultureInfo.InvariantCulture) + " MiB",
        _ => (bytes / 1024.0).ToString("0", CultureInfo.InvariantCulture) + " KiB",
    };

    public override string ToString() =>
        $"{Format(Total)} (weights {Format(Parameters)}, gradients {Format(Gradients)}, optimizer {Format(OptimizerState)}, " +
        $"activations {Format(Activations)}, data {Format(Dataset)}, runtime {Format(Runtime)})";
}
