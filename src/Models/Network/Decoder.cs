using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>What the decoder attends to: encoder outputs (values), their projection (keys) and the padding mask.</summary>
public sealed record DecoderMemory(Tensor Values, Tensor? Keys, Tensor? Padding)
{
    /// <summary>Rows picked by <paramref name="index"/>, for beams.</summary>
    public DecoderMemory Select(Tensor index) =>
        new(Values.index_select(0, index), Keys?.index_select(0, index), Padding?.index_select(0, index));
}

/// <summary>Per-forward views of the decoder's weights, so each step does no weight reshaping.</summary>
public sealed record DecoderWeights(CellWeights[] Layers, Tensor? ContextT);

/// <summary>
/// The target-side recurrent stack. Step <c>t</c>: attend with the top layer's previous state (Bahdanau),
/// feed [embedding; context] to the first layer, predict from [top output; context].
/// </summary>
public sealed class Decoder : nn.Module
{
    readonly ModelOptions options;
    readonly Embedding embedding;
    readonly ModuleList<RecurrentLayer> layers;
    readonly Attention? attention;
    readonly Linear output;

    public Decoder(string name, ModelOptions options, int vocabulary) : base(name)
    {
        this.options = options;
        int context = options.Attention == AttentionKind.None ? 0 : options.EncoderOutputSize;
        embedding = nn.Embedding(vocabulary, options.EmbeddingSize);
        layers = new ModuleList<RecurrentLayer>();
        for (int l = 0; l < options.Layers; l++)
            layers.Add(new RecurrentLayer($"layer{l}", options.Cell, l == 0 ? options.EmbeddingSize + context : options.HiddenSize,
                options.HiddenSize, bidirectional: false, options.LayerNorm));
        if (options.Attention != AttentionKind.None)
            attention = new Attention("attention", options.Attention, options.EncoderOutputSize, options.HiddenSize,
                options.AttentionSize > 0 ? options.AttentionSize : options.HiddenSize);
        output = nn.Linear(options.HiddenSize + context, vocabulary);
        RegisterComponents();
    }

    /// <summary>Training with attention (teacher-forced or sampled) may use <see cref="FusedAttentionDecoder"/>; tests turn it off to compare with the step loop.</summary>
    internal bool UseFusedRecurrence { get; set; } = true;

    /// <summary>Project the whole target vocabulary once and look rows up, where that is cheaper; tests turn it off to compare.</summary>
    internal bool UseVocabularyProjection { get; set; } = true;

    bool CanFuseRecurrence => UseFusedRecurrence && PackedWeight.IsAvailable && attention is not null;

    public Tensor? Keys(Tensor encoderOutputs) => attention?.Keys(encoderOutputs);

    public DecoderWeights PrepareWeights()
    {
        var w = new CellWeights[layers.Count];
        for (int l = 0; l < layers.Count; l++) w[l] = layers[l].Weights(0);
        Tensor? contextT = attention is null ? null : w[0].Ih.narrow(1, options.EmbeddingSize, options.EncoderOutputSize).t();
        return new DecoderWeights(w, contextT);
    }

    /// <summary>
    /// Logits (batch, time, vocabulary) for decoder inputs (batch, time) that start with BOS. With
    /// <paramref name="teacherProbability"/> below 1, each input token after the first is, with that
    /// probability, the ground truth, and otherwise the model's own previous prediction (scheduled sampling).
    /// </summary>
    public Tensor Logits(DecoderMemory memory, RnnState[] initial, Tensor inputs, double teacherProbability, Generator generator)
    {
        long batch = inputs.shape[0], time = inputs.shape[1];
        if (attention is null && teacherProbability >= 1)
        {
            // Nothing couples the steps but the recurrence itself: the whole target runs through the layer stack at once.
            var x = DropoutMasks.Apply(embedding.call(inputs), options.Dropout, generator, training);
            var tokens = UseVocabularyProjection && (!training || options.Dropout <= 0) ? new TokenInput(inputs, embedding.weight!) : null;
            var (top, _) = LayerStack.Run(layers, x, null, initial.Select(s => new[] { s }).ToArray(), options, generator, training, tokens);
            return output.call(DropoutMasks.Apply(top, options.Dropout, generator, training));
        }

        var w = PrepareWeights();
        var masks = DrawMasks(batch, generator);
        var dropouts = DrawDropouts(time, batch, generator);
        var states = initial;
        var maskE = masks?[0].Input[0]?.narrow(1, 0, options.EmbeddingSize);
        if (teacherProbability >= 1)
        {
            // Time-major, so each step's slice is a dense block the fused add can read directly.
            var projected = ProjectTokens(inputs.t(), w, maskE, generator);
            if (CanFuseRecurrence)
            {
                var maskC = masks?[0].Input[0]?.narrow(1, options.EmbeddingSize, options.EncoderOutputSize);
                var (allTops, allContexts) = FusedAttentionDecoder.Run(options.Cell, options.Residual, projected, initial, memory, attention!,
                    w.Layers, w.ContextT!.t(), masks, dropouts, maskC);
                var fused = cat([allTops, allContexts], 2).transpose(0, 1);
                return output.call(DropoutMasks.Apply(fused, options.Dropout, generator, training));
            }
            var tops = new Tensor[time];
            var contexts = new Tensor?[time];
            for (long t = 0; t < time; t++)
            {
                (tops[t], contexts[t], _, states) = Advance(memory, states, projected[t], w, masks, dropouts, t);
            }
            // One output projection over all steps instead of one per step.
            var features = attention is null ? stack(tops, 1) : cat([stack(tops, 1), stack(contexts.Select(c => c!), 1)], 2);
            return output.call(DropoutMasks.Apply(features, options.Dropout, generator, training));
        }

        var useTruth = rand(new[] { batch, time }, generator: generator) < teacherProbability;
        // Drawn ahead, so the fused loop and the step loop see the same masks.
        long featureSize = options.HiddenSize + (attention is null ? 0 : options.EncoderOutputSize);
        var embeddingDropout = DropoutMasks.PerElement([time, batch, options.EmbeddingSize], options.Dropout, generator, training);
        var outputDropout = DropoutMasks.PerElement([time, batch, featureSize], options.Dropout, generator, training);
        if (CanFuseRecurrence)
        {
            var maskC = masks?[0].Input[0]?.narrow(1, options.EmbeddingSize, options.EncoderOutputSize);
            var embeddingMask = embeddingDropout is null ? maskE?.expand(time, batch, options.EmbeddingSize)
                : maskE is null ? embeddingDropout : embeddingDropout * maskE;
            var sampling = new FusedAttentionDecoder.Sampling(embedding.weight!, w.Layers[0].Ih.narrow(1, 0, options.EmbeddingSize),
                w.Layers[0].InputBias, embeddingMask?.contiguous(), inputs.t().contiguous(), useTruth.t().contiguous(), output.weight!,
                output.bias!, outputDropout);
            var (allTops, allContexts) = FusedAttentionDecoder.Sample(options.Cell, options.Residual, initial, memory, attention!,
                w.Layers, w.ContextT!.t(), masks, dropouts, maskC, sampling);
            var sampled = cat([allTops, allContexts], 2);
            return output.call(outputDropout is null ? sampled : sampled * outputDropout).transpose(0, 1);
        }
        var logits = new Tensor[time];
        Tensor? previous = null;
        for (long t = 0; t < time; t++)
        {
            var tokens = previous is null ? inputs.select(1, t) : torch.where(useTruth.select(1, t), inputs.select(1, t), previous);
            var projected = ProjectTokens(tokens, w, maskE, generator, embeddingDropout?[t]);
            (var top, var context, _, states) = Advance(memory, states, projected, w, masks, dropouts, t);
            var features = Features(top, context);
            logits[t] = output.call(outputDropout is null ? features : features * outputDropout[t]);
            using (no_grad()) previous = logits[t].argmax(1);
        }
        return stack(logits, 1);
    }

    /// <summary>One inference step: log-probabilities (batch, vocabulary) of the next token, attention weights, new states.</summary>
    public (Tensor LogProbs, Tensor? Weights, RnnState[] States) Step(DecoderMemory memory, RnnState[] states, Tensor tokens, DecoderWeights w)
    {
        var projected = ProjectTokens(tokens, w, null, null);
        var (top, context, weights, next) = Advance(memory, states, projected, w, null, null, 0);
        return (output.call(Features(top, context)).log_softmax(1), weights, next);
    }

    /// <summary>
    /// The embedding half of the first layer's input transform for tokens (batch) or (time, batch), with dropout
    /// and the recurrent-dropout mask (batch, embedding) applied in training.
    /// </summary>
    Tensor ProjectTokens(Tensor tokens, DecoderWeights w, Tensor? embeddingMask, Generator? generator, Tensor? drawnDropout = null)
    {
        bool perPositionNoise = embeddingMask is not null || (training && options.Dropout > 0);
        if (UseVocabularyProjection && !perPositionNoise && embedding.weight!.shape[0] < tokens.numel())
        {
            // Projecting the whole vocabulary once and looking rows up is the same function, and far cheaper
            // whenever the vocabulary is smaller than the number of positions (character tasks: 14 rows vs 704).
            var table = RecurrentLayer.InputLinear(w.Layers[0], embedding.weight!, 0, options.EmbeddingSize, withBias: true);
            return table.index_select(0, tokens.reshape(-1)).reshape([.. tokens.shape, table.shape[1]]);
        }
        var embedded = drawnDropout is null ? DropoutMasks.Apply(embedding.call(tokens), options.Dropout, generator, training)
            : embedding.call(tokens) * drawnDropout;
        if (embeddingMask is not null) embedded = embedded * embeddingMask;
        return RecurrentLayer.InputLinear(w.Layers[0], embedded, 0, options.EmbeddingSize, withBias: true);
    }

    static Tensor Features(Tensor top, Tensor? context) => context is null ? top : cat([top, context], 1);

    (Tensor Top, Tensor? Context, Tensor? Weights, RnnState[] States) Advance(DecoderMemory memory, RnnState[] states, Tensor embeddingProjection,
        DecoderWeights w, SequenceMasks[]? masks, Tensor?[]? dropouts, long t)
    {
        var ih = embeddingProjection;
        Tensor? context = null, weights = null;
        if (attention is not null)
        {
            (context, weights) = attention.Attend(memory.Keys!, memory.Values, states[^1].H, memory.Padding);
            var maskC = masks?[0].Input[0]?.narrow(1, options.EmbeddingSize, options.EncoderOutputSize);
            ih = torch.addmm(ih, maskC is null ? context : context * maskC, w.ContextT!, 1, 1);
        }
        var next = new RnnState[layers.Count];
        next[0] = layers[0].Step(w.Layers[0], RecurrentLayer.NormalizeInput(w.Layers[0], ih), states[0], masks?[0].Hidden[0]);
        var x = next[0].H;
        for (int l = 1; l < layers.Count; l++)
        {
            var input = dropouts?[l] is { } dropout ? x * dropout[t] : x;
            var ihl = RecurrentLayer.ProjectInput(w.Layers[l], input, masks?[l].Input[0]);
            next[l] = layers[l].Step(w.Layers[l], ihl, states[l], masks?[l].Hidden[0]);
            x = options.Residual ? next[l].H + x : next[l].H;
        }
        return (x, context, weights, next);
    }

    /// <summary>Ordinary dropout between layers for every step, drawn ahead (index 0 unused), or null.</summary>
    Tensor?[]? DrawDropouts(long time, long batch, Generator generator)
    {
        if (!training || options.Dropout <= 0 || layers.Count < 2) return null;
        var masks = new Tensor?[layers.Count];
        for (int l = 1; l < layers.Count; l++) masks[l] = DropoutMasks.PerElement([time, batch, options.HiddenSize], options.Dropout, generator, training);
        return masks;
    }

    SequenceMasks[]? DrawMasks(long batch, Generator generator)
    {
        if (!training || options.RecurrentDropout <= 0) return null;
        var masks = new SequenceMasks[layers.Count];
        for (int l = 0; l < layers.Count; l++)
        {
            long inputSize = l == 0 ? options.EmbeddingSize + (attention is null ? 0 : options.EncoderOutputSize) : options.HiddenSize;
            masks[l] = layers[l].DrawMasks(batch, inputSize, options.RecurrentDropout, generator, training)!;
        }
        return masks;
    }

}
