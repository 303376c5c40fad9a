using Distributed.Models.Network;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Tests.Model;

public class RecurrentLayerTests
{
    // The step-by-step cell reuses the fused module's weights; both paths must compute the same function,
    // including the backward direction of padded sequences.
    [Theory]
    [InlineData(CellKind.Lstm, false)]
    [InlineData(CellKind.Lstm, true)]
    [InlineData(CellKind.Gru, true)]
    [InlineData(CellKind.Rnn, true)]
    public void Stepwise_cell_matches_the_fused_kernel_on_padded_batches(CellKind cell, bool bidirectional)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var layer = new RecurrentLayer("l", cell, 5, 6, bidirectional, layerNorm: false);
        var x = randn(3, 7, 5);
        var lengths = tensor(new long[] { 7, 4, 2 });
        var padding = arange(7, dtype: ScalarType.Int64).unsqueeze(0) >= lengths.unsqueeze(1);
        // libtorch's kernel: without gradients, since training a GRU or RNN with them runs ours.
        (Tensor, RnnState[]) reference;
        using (no_grad()) reference = layer.Run(x, lengths, null, null, stepwise: false, masks: null);
        var (fused, fusedFinal) = reference;
        var (stepped, steppedFinal) = layer.Run(x, lengths, padding.logical_not(), null, stepwise: true, masks: null);
        // Ours on a padded batch without its valid steps (as a caller passing lengths only) carries padded states too.
        var (derived, derivedFinal) = layer.Run(x, lengths, null, null, stepwise: false, masks: null);
        for (int d = 0; d < derivedFinal.Length; d++)
            TinyModels.AssertClose(TinyModels.Values(fusedFinal[d].H), TinyModels.Values(derivedFinal[d].H), 1e-5);

        var valid = padding.logical_not().unsqueeze(2).to(ScalarType.Float32);
        TinyModels.AssertClose(TinyModels.Values(fused * valid), TinyModels.Values(stepped * valid), 1e-5);
        for (int d = 0; d < fusedFinal.Length; d++)
        {
            TinyModels.AssertClose(TinyModels.Values(fusedFinal[d].H), TinyModels.Values(steppedFinal[d].H), 1e-5);
            if (cell == CellKind.Lstm)
                TinyModels.AssertClose(TinyModels.Values(fusedFinal[d].C!), TinyModels.Values(steppedFinal[d].C!), 1e-5);
        }
    }

    // Evaluation and prediction run libtorch's kernel without gradients; on AVX-512 (AMD EPYC) oneDNN's inference
    // kernels drifted from the cell by up to 0.2, so a model scored differently alone and in a padded batch. In
    // training, libtorch's kernel and our fused recurrence compute the same function.
    [Theory]
    [InlineData(CellKind.Lstm, false, false)]
    [InlineData(CellKind.Lstm, true, false)]
    [InlineData(CellKind.Lstm, false, true)]
    [InlineData(CellKind.Gru, true, false)]
    [InlineData(CellKind.Rnn, false, false)]
    public void Fused_kernel_matches_the_cell_on_whole_batches_in_inference_and_training(CellKind cell, bool bidirectional, bool training)
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var layer = new RecurrentLayer("l", cell, 8, 12, bidirectional, layerNorm: false);
        layer.train(training);
        using var grad = set_grad_enabled(training);
        var x = randn(4, 6, 8);
        // libtorch's kernel: training with gradients runs ours unless told not to.
        layer.UseFusedRecurrence = false;
        var (fused, fusedFinal) = layer.Run(x, null, null, null, stepwise: false, masks: null);
        layer.UseFusedRecurrence = true;
        var (stepped, steppedFinal) = layer.Run(x, null, null, null, stepwise: true, masks: null);
        TinyModels.AssertClose(TinyModels.Values(stepped), TinyModels.Values(fused), 1e-5);
        for (int d = 0; d < fusedFinal.Length; d++)
            TinyModels.AssertClose(TinyModels.Values(steppedFinal[d].H), TinyModels.Values(fusedFinal[d].H), 1e-5);
    }

    [Fact]
    public void Recurrent_dropout_uses_one_mask_per_sequence_at_every_time_step()
    {
        using var scope = NewDisposeScope();
        using var layer = new RecurrentLayer("l", CellKind.Lstm, 16, 8, bidirectional: false, layerNorm: false);
        var generator = new Generator(5);
        var masks = layer.DrawMasks(batch: 4, inputSize: 16, p: 0.5, generator, training: true)!;
        var w = layer.Weights(0);
        // A constant input: whatever the projection shows at each step comes from the mask alone.
        var x = ones(9, 4, 16);
        var projected = RecurrentLayer.ProjectInput(w, x, masks.Input[0]);
        for (long t = 1; t < 9; t++)
            TinyModels.AssertClose(TinyModels.Values(projected.select(0, 0)), TinyModels.Values(projected.select(0, t)), 0);
        var rows = Enumerable.Range(0, 4).Select(b => TinyModels.Values(masks.Input[0]!.select(0, b))).ToList();
        Assert.Equal(4, rows.Select(r => string.Join(",", r)).Distinct().Count());
        var all = TinyModels.Values(masks.Input[0]!).Concat(TinyModels.Values(masks.Hidden[0]!)).ToArray();
        Assert.All(all, v => Assert.True(v == 0f || Math.Abs(v - 2f) < 1e-6, $"mask value {v} is neither 0 nor 1/(1-p)"));
        Assert.InRange(all.Count(v => v == 0f) / (double)all.Length, 0.3, 0.7);
        Assert.Null(layer.DrawMasks(4, 16, 0.5, generator, training: false));
    }

    [Fact]
    public void Layer_norm_normalises_the_input_transform()
    {
        using var scope = NewDisposeScope();
        using var layer = new RecurrentLayer("l", CellKind.Lstm, 5, 6, bidirectional: false, layerNorm: true);
        var projected = RecurrentLayer.ProjectInput(layer.Weights(0), randn(2, 3, 5) * 50 + 7, null);
        var mean = projected.mean([-1L]);
        var std = projected.std(-1, unbiased: false);
        Assert.True(mean.abs().max().item<float>() < 1e-4);
        Assert.True((std - 1).abs().max().item<float>() < 1e-3);
    }
}
