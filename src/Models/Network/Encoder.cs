using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>Embeds the source and runs the stacked (optionally bidirectional) recurrent layers over it.</summary>
public sealed class Encoder : nn.Module
{
    readonly ModelOptions options;
    readonly Embedding embedding;
    readonly ModuleList<RecurrentLayer> layers;

    public Encoder(string name, ModelOptions options, int vocabulary) : base(name)
    {
        this.options = options;
        embedding = nn.Embedding(vocabulary, options.EmbeddingSize);
        layers = new ModuleList<RecurrentLayer>();
        for (int l = 0; l < options.Layers; l++)
            layers.Add(new RecurrentLayer($"layer{l}", options.Cell, l == 0 ? options.EmbeddingSize : options.EncoderOutputSize,
                options.HiddenSize, options.Bidirectional, options.LayerNorm));
        RegisterComponents();
    }

    /// <summary>Whether a fused first layer may transform the embedding table once (<see cref="TokenInput"/>); tests turn it off to compare.</summary>
    internal bool UseVocabularyProjection { get; set; } = true;

    /// <summary>Outputs (batch, source, directions*hidden) and the final states, per layer and direction.</summary>
    public (Tensor Outputs, RnnState[][] Final) Forward(SourceBatch source, Generator generator)
    {
        var x = DropoutMasks.Apply(embedding.call(source.Tokens), options.Dropout, generator, training);
        var tokens = UseVocabularyProjection && (!training || options.Dropout <= 0) ? new TokenInput(source.Tokens, embedding.weight!) : null;
        return LayerStack.Run(layers, x, source.Lengths, null, options, generator, training, tokens);
    }
}
