using Distributed.Models.Network;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Tests.Model;

public class AttentionTests
{
    [Theory]
    [InlineData(AttentionKind.Dot)]
    [InlineData(AttentionKind.Multiplicative)]
    [InlineData(AttentionKind.Additive)]
    public void Padding_gets_no_weight_and_does_not_change_the_context(AttentionKind kind)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var attention = new Attention("a", kind, encoderSize: 6, decoderSize: 6, attentionSize: 5);
        var real = randn(1, 4, 6);
        // Two padded positions full of large values: if the mask leaked, they would dominate the softmax.
        var padded = cat([real, randn(1, 2, 6) * 100], 1);
        var padding = tensor(new[] { false, false, false, false, true, true }).unsqueeze(0);
        var query = randn(1, 6);

        var (context, weights) = attention.Attend(attention.Keys(padded), padded, query, padding);
        var (expectedContext, expectedWeights) = attention.Attend(attention.Keys(real), real, query, null);

        Assert.Equal(0f, weights[0, 4].item<float>());
        Assert.Equal(0f, weights[0, 5].item<float>());
        TinyModels.AssertClose(TinyModels.Values(expectedWeights), TinyModels.Values(weights.narrow(1, 0, 4)), 1e-6);
        TinyModels.AssertClose(TinyModels.Values(expectedContext), TinyModels.Values(context), 1e-5);
        Assert.Equal(1.0, weights.sum().item<float>(), 5);
    }

    // End to end: a sequence's logits do not depend on which (longer) sequences share its batch.
    [Theory]
    [InlineData(CellKind.Lstm, false, false, AttentionKind.Additive)]
    [InlineData(CellKind.Lstm, true, false, AttentionKind.Multiplicative)]
    [InlineData(CellKind.Gru, true, true, AttentionKind.Additive)]
    [InlineData(CellKind.Lstm, false, false, AttentionKind.None)]
    public void A_padded_batch_gives_each_sequence_its_unpadded_logits(CellKind cell, bool bidirectional, bool layerNorm, AttentionKind attention)
    {
        using var scope = NewDisposeScope();
        var options = TinyModels.Options(cell, attention) with { Bidirectional = bidirectional, LayerNorm = layerNorm, Layers = 2 };
        using var model = TinyModels.Model(options);
        model.eval();
        var shortSource = TinyModels.Ids("123");
        var longSource = TinyModels.Ids("9876543");
        var target = tensor(new long[] { 1, 5, 6, 7 }).unsqueeze(0);

        var alone = model.Logits(SourceBatch.From([shortSource]), target, 1.0);
        var together = model.Logits(SourceBatch.From([longSource, shortSource]), cat([target, target], 0), 1.0);

        TinyModels.AssertClose(TinyModels.Values(alone[0]), TinyModels.Values(together[1]), 1e-5);
    }
}
