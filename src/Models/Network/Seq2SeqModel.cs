using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>
/// Encoder, bridge and decoder. The bridge maps the encoder's final states (both directions concatenated)
/// to each decoder layer's initial state through tanh(W x + b).
/// </summary>
public sealed class Seq2SeqModel : nn.Module
{
    readonly Encoder encoder;
    readonly ModuleList<Linear> bridgeH;
    readonly ModuleList<Linear> bridgeC;
    readonly Decoder decoder;

    public Seq2SeqModel(ModelOptions options, int sourceVocabulary, int targetVocabulary, ulong seed) : base("seq2seq")
    {
        Options = options.EnsureValid();
        SourceVocabulary = sourceVocabulary;
        TargetVocabulary = targetVocabulary;
        encoder = new Encoder("encoder", options, sourceVocabulary);
        bridgeH = new ModuleList<Linear>();
        bridgeC = new ModuleList<Linear>();
        for (int l = 0; l < options.Layers; l++)
        {
            bridgeH.Add(nn.Linear(options.EncoderOutputSize, options.HiddenSize));
            if (options.Cell == CellKind.Lstm) bridgeC.Add(nn.Linear(options.EncoderOutputSize, options.HiddenSize));
        }
        decoder = new Decoder("decoder", options, targetVocabulary);
        RegisterComponents();
        Generator = new Generator(seed);
        Initialize();
    }

    public ModelOptions Options { get; }
    public int SourceVocabulary { get; }
    public int TargetVocabulary { get; }

    /// <summary>The replica's own random stream: initial weights, dropout masks, scheduled-sampling coins.</summary>
    public Generator Generator { get; }

    // Every weight from the replica's generator (never the process-wide one), so replicas built at the same time
    // on different threads still start identical.
    void Initialize()
    {
        double k = 1.0 / Math.Sqrt(Options.HiddenSize);
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.Contains("Norms")) continue; // layer norm starts as the identity: gain 1, bias 0
            if (name.EndsWith("embedding.weight", StringComparison.Ordinal)) p.normal_(0, 1, Generator);
            else p.uniform_(-k, k, Generator);
        }
    }

    /// <summary>
    /// Runs the encoder and bridge: what the decoder attends to, and its initial state per layer. With
    /// <paramref name="decoderGradientsReady"/>, the backward pass calls it once the gradients of every parameter
    /// from <see cref="EncoderParameterCount"/> on (bridge and decoder) are final, before the encoder's backward.
    /// </summary>
    public (DecoderMemory Memory, RnnState[] Initial) Encode(SourceBatch source, Action? decoderGradientsReady = null)
    {
        var (outputs, finals) = encoder.Forward(source, Generator);
        if (decoderGradientsReady is not null) (outputs, finals) = Bounded(decoderGradientsReady, outputs, finals);
        var initial = new RnnState[Options.Layers];
        for (int l = 0; l < Options.Layers; l++)
        {
            var h = bridgeH[l].call(Concat(finals[l].Select(s => s.H))).tanh();
            var c = Options.Cell == CellKind.Lstm ? bridgeC[l].call(Concat(finals[l].Select(s => s.C!))).tanh() : null;
            initial[l] = new RnnState(h, c);
        }
        return (new DecoderMemory(outputs, decoder.Keys(outputs), source.Padding), initial);
    }

    static (Tensor Outputs, RnnState[][] Finals) Bounded(Action reached, Tensor outputs, RnnState[][] finals)
    {
        var states = finals.SelectMany(layer => layer).ToArray();
        var through = GradientBoundary.Mark(reached, [outputs, .. states.Select(s => s.H), .. states.Where(s => s.C is not null).Select(s => s.C!)]);
        int next = 1 + states.Length;
        var bounded = states.Select((s, i) => new RnnState(through[1 + i], s.C is null ? null : through[next++])).ToArray();
        int at = 0;
        return (through[0], finals.Select(layer => layer.Select(_ => bounded[at++]).ToArray()).ToArray());
    }

    /// <summary>Values of the encoder's parameters, which come first in <see cref="OrderedParameters"/>; the bridge's and decoder's follow.</summary>
    public long EncoderParameterCount => encoder.parameters().Sum(p => p.numel());

    static Tensor Concat(IEnumerable<Tensor> directions)
    {
        var list = directions.ToArray();
        return list.Length == 1 ? list[0] : cat(list, 1);
    }

    /// <summary>Training logits (batch, time, target vocabulary); see <see cref="Decoder.Logits"/>.</summary>
    public Tensor Logits(SourceBatch source, Tensor decoderInputs, double teacherProbability, Action? decoderGradientsReady = null)
    {
        var (memory, initial) = Encode(source, decoderGradientsReady);
        return decoder.Logits(memory, initial, decoderInputs, teacherProbability, Generator);
    }

    /// <summary>Whether training runs the hand-fused recurrences (<see cref="FusedAttentionDecoder"/>, <see cref="FusedRecurrentLayer"/>) where they apply.</summary>
    internal bool UseFusedRecurrence
    {
        get => decoder.UseFusedRecurrence;
        set
        {
            decoder.UseFusedRecurrence = value;
            foreach (var module in modules())
                if (module is RecurrentLayer layer) layer.UseFusedRecurrence = value;
        }
    }

    /// <summary>Whether the decoder projects its vocabulary once instead of every position (default true where cheaper).</summary>
    internal bool UseVocabularyProjection
    {
        get => decoder.UseVocabularyProjection;
        set => decoder.UseVocabularyProjection = encoder.UseVocabularyProjection = value;
    }

    public DecoderWeights PrepareDecoder() => decoder.PrepareWeights();

    /// <summary>One decoding step for inference.</summary>
    public (Tensor LogProbs, Tensor? Weights, RnnState[] States) DecodeStep(DecoderMemory memory, RnnState[] states, Tensor tokens, DecoderWeights weights)
        => decoder.Step(memory, states, tokens, weights);

    /// <summary>All trainable parameters in a fixed order (the order of the flat buffers).</summary>
    public IReadOnlyList<Parameter> OrderedParameters() => parameters().ToList();
}
