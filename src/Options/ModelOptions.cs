using Orleans;
namespace Distributed.Options;

/// <summary>The recurrent cell used by encoder and decoder.</summary>
[GenerateSerializer, Alias("CellKind")]
public enum CellKind
{
    /// <summary>Long short-term memory (Hochreiter and Schmidhuber 1997).</summary>
    Lstm,
    /// <summary>Gated recurrent unit (Cho et al. 2014).</summary>
    Gru,
    /// <summary>Plain tanh RNN, for the vanishing-gradient comparison.</summary>
    Rnn,
}

/// <summary>How the decoder scores encoder positions.</summary>
[GenerateSerializer, Alias("AttentionKind")]
public enum AttentionKind
{
    /// <summary>No attention: the decoder sees only the bridged final encoder state (the bottleneck baseline).</summary>
    None,
    /// <summary>score = h_i · s; needs the encoder output size to equal the decoder hidden size.</summary>
    Dot,
    /// <summary>Luong's general form: score = h_i^T W s.</summary>
    Multiplicative,
    /// <summary>Bahdanau's form: score = v^T tanh(W_h h_i + W_s s).</summary>
    Additive,
}

/// <summary>
/// Everything that decides the shape of an encoder-decoder. Serialisable (plain properties) so it can
/// travel in sweep specs and checkpoints; <see cref="Validate"/> names every bad field at once.
/// </summary>
[GenerateSerializer, Immutable, Alias("ModelOptions")]
public sealed record ModelOptions
{
    /// <summary>Recurrent cell of encoder and decoder.</summary>
    [Id(0)] public CellKind Cell { get; init; } = CellKind.Lstm;
    /// <summary>Token embedding size (source and target each have their own table).</summary>
    [Id(1)] public int EmbeddingSize { get; init; } = 64;
    /// <summary>Hidden size of every recurrent layer (per direction in the encoder).</summary>
    [Id(2)] public int HiddenSize { get; init; } = 128;
    /// <summary>Stacked recurrent layers in the encoder, 1-4; the decoder has as many.</summary>
    [Id(3)] public int Layers { get; init; } = 1;
    /// <summary>Run a backward encoder too and concatenate both directions per position.</summary>
    [Id(4)] public bool Bidirectional { get; init; }
    /// <summary>Add each stacked layer's input to its output (h_l = h_{l-1} + RNN(h_{l-1})) from the second layer on.</summary>
    [Id(5)] public bool Residual { get; init; } = true;
    /// <summary>Dropout between stacked layers and before the output projection, in [0, 1).</summary>
    [Id(6)] public double Dropout { get; init; }
    /// <summary>Variational dropout: one mask per sequence on each cell's input and hidden state, the same at every step, in [0, 1).</summary>
    [Id(7)] public double RecurrentDropout { get; init; }
    /// <summary>Layer-normalise the input-to-hidden and hidden-to-hidden transforms of every cell.</summary>
    [Id(8)] public bool LayerNorm { get; init; }
    /// <summary>Decoder attention over encoder outputs.</summary>
    [Id(9)] public AttentionKind Attention { get; init; } = AttentionKind.Additive;
    /// <summary>Size of the additive attention's hidden layer; 0 means the hidden size.</summary>
    [Id(10)] public int AttentionSize { get; init; }

    /// <summary>Largest embedding, hidden and attention size: parameters and activations grow with its square.</summary>
    public const int MaxWidth = 4096;

    /// <summary>Width of one encoder position: hidden size times the number of directions.</summary>
    public int EncoderOutputSize => HiddenSize * (Bidirectional ? 2 : 1);

    /// <summary>True when a cell needs the step-by-step path (libtorch's fused RNN cannot do it).</summary>
    /// <summary>The options without those a trained model can change (dropout rates): equal shapes, interchangeable weights.</summary>
    public ModelOptions Shape() => this with { Dropout = 0, RecurrentDropout = 0 };

    public bool NeedsStepwiseCells => LayerNorm || RecurrentDropout > 0;

    /// <summary>Every problem with these options, each naming its field; empty when valid.</summary>
    public IReadOnlyList<string> Validate(string prefix = "model")
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Enum.IsDefined(Cell), "cell", "must be lstm, gru or rnn");
        errors.Check(EmbeddingSize is >= 1 and <= MaxWidth, "embeddingSize", $"must be 1..{MaxWidth}");
        errors.Check(HiddenSize is >= 1 and <= MaxWidth, "hiddenSize", $"must be 1..{MaxWidth}");
        errors.Check(Layers is >= 1 and <= 4, "layers", "must be 1..4");
        errors.Check(Dropout is >= 0 and < 1, "dropout", "must be in [0, 1)");
        errors.Check(RecurrentDropout is >= 0 and < 1, "recurrentDropout", "must be in [0, 1)");
        errors.Check(Enum.IsDefined(Attention), "attention", "must be none, dot, multiplicative or additive");
        errors.Check(AttentionSize is >= 0 and <= MaxWidth, "attentionSize", $"must be 0..{MaxWidth} (0 means the hidden size)");
        errors.Check(Attention != AttentionKind.Dot || EncoderOutputSize == HiddenSize, "attention",
            "dot attention needs the encoder output size to equal the hidden size; with a bidirectional encoder use multiplicative or additive");
        return errors.List;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem, or returns this.</summary>
    public ModelOptions EnsureValid()
    {
        return OptionErrors.EnsureValid(this, Validate());
    }
}
