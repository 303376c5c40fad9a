using Distributed.Models.Network;
using Distributed.Models.Training;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Tests.Model;

public class FusedRecurrenceTests
{
    // The hand-written backwards (decoder and stepwise encoder layers) must give the same loss and the same
    // gradient for every parameter as autograd through the step loop, with padding, bidirectional encoders,
    // layer norm and every dropout in play.
    [Theory]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, false, 0.0, false, 1)]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, true, 0.3, false, 1)]
    [InlineData(CellKind.Lstm, AttentionKind.Multiplicative, true, 0.3, false, 1)]
    [InlineData(CellKind.Lstm, AttentionKind.Dot, false, 0.3, false, 1)]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, true, 0.3, true, 1)]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, true, 0.0, true, 2)]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, false, 0.3, false, 2)]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, true, 0.3, true, 3)]
    [InlineData(CellKind.Gru, AttentionKind.Additive, false, 0.0, false, 1)]
    [InlineData(CellKind.Gru, AttentionKind.Additive, true, 0.3, false, 1)]
    [InlineData(CellKind.Gru, AttentionKind.Dot, false, 0.3, true, 1)]
    [InlineData(CellKind.Gru, AttentionKind.None, true, 0.0, false, 2)]
    [InlineData(CellKind.Gru, AttentionKind.Additive, true, 0.3, true, 2)]
    [InlineData(CellKind.Gru, AttentionKind.Additive, false, 0.3, false, 2, false)]
    [InlineData(CellKind.Rnn, AttentionKind.Multiplicative, true, 0.3, true, 1)]
    [InlineData(CellKind.Rnn, AttentionKind.Dot, false, 0.3, false, 2)]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, false, 0.0, false, 1, true, 0.5)]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, true, 0.3, false, 2, true, 0.5)]
    [InlineData(CellKind.Gru, AttentionKind.Dot, false, 0.3, true, 2, false, 0.0)]
    [InlineData(CellKind.Rnn, AttentionKind.Multiplicative, true, 0.0, true, 1, true, 0.3)]
    [InlineData(CellKind.Rnn, AttentionKind.None, false, 0.3, false, 1)]
    public void Fused_recurrence_matches_autograd_through_the_step_loop(CellKind cell, AttentionKind attention, bool bidirectional,
        double dropout, bool layerNorm, int layers, bool residual = true, double teacher = 1.0)
    {
        var model = TinyModels.Options(cell, attention) with
        {
            Bidirectional = bidirectional, Dropout = dropout, RecurrentDropout = dropout, LayerNorm = layerNorm, Layers = layers, Residual = residual,
        };
        // Below 1, scheduled sampling: each step's input is the truth or the previous step's argmax.
        AssertFusedMatchesLoop(model, new TrainingOptions { BatchSize = 16, TeacherForcing = new ScheduledSampling { Initial = teacher } }, padded: true);
    }

    /// <summary>One batch's loss and gradients through the fused recurrence against autograd through the step loop.</summary>
    static void AssertFusedMatchesLoop(ModelOptions model, TrainingOptions training, bool padded)
    {
        // Without MKL's packed GEMM the fused paths switch off and this would compare the loop with itself.
        Assert.True(PackedWeight.IsAvailable, "libtorch_cpu does not export MKL's packed GEMM");
        var data = padded ? TinyModels.Reverse(64, 3, 9) : TinyModels.Reverse(64, 7, 7);
        using var fused = new Trainer(model, training, data.Vocabularies, 4, data.Train);
        using var looped = new Trainer(model, training, data.Vocabularies, 4, data.Train);
        looped.Model.UseFusedRecurrence = false;
        using var batch = TrainingBatch.From(data.Train.Take(16).ToList());
        Assert.Equal(padded, batch.Source.Padding is not null);

        var fusedReport = fused.ComputeGradient(batch);
        var loopedReport = looped.ComputeGradient(batch);

        Assert.Equal(loopedReport.Loss, fusedReport.Loss, 5);
        TinyModels.AssertClose(looped.Parameters.Gradients.ToArray(), fused.Parameters.Gradients.ToArray(), 2e-5);
        Assert.True(GradientClipping.L2Norm(fused.Parameters.Gradients) > 1e-3);
    }

    // Without padding the backward direction runs the fused recurrence from the last step instead of flipping the
    // sequence in and its outputs back; the step loop still flips. Same loss, same gradients.
    [Theory]
    [InlineData(CellKind.Lstm, AttentionKind.None, 0.0, false, 2)]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, 0.3, true, 1)]
    [InlineData(CellKind.Gru, AttentionKind.None, 0.3, false, 2)]
    [InlineData(CellKind.Rnn, AttentionKind.Multiplicative, 0.0, true, 2)]
    public void The_backward_direction_run_from_the_last_step_matches_the_flipped_loop(CellKind cell, AttentionKind attention, double dropout,
        bool layerNorm, int layers)
    {
        var model = TinyModels.Options(cell, attention) with
        {
            Bidirectional = true, Dropout = dropout, RecurrentDropout = dropout, LayerNorm = layerNorm, Layers = layers,
        };
        AssertFusedMatchesLoop(model, new TrainingOptions { BatchSize = 16 }, padded: false);
    }

    // The decoder's attentive first layer and the fused layers of the GRU and RNN (encoder, decoder without attention,
    // bidirectional) transform the embedding table once and look positions up.
    [Theory]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, false)]
    [InlineData(CellKind.Gru, AttentionKind.None, true)]
    [InlineData(CellKind.Rnn, AttentionKind.Dot, false)]
    public void Projecting_the_vocabulary_once_matches_projecting_every_position(CellKind cell, AttentionKind attention, bool bidirectional)
    {
        var data = TinyModels.Reverse(64, 3, 9);
        var training = new TrainingOptions { BatchSize = 32 };
        var model = TinyModels.Options(cell, attention) with { Bidirectional = bidirectional, LayerNorm = cell == CellKind.Gru };
        using var table = new Trainer(model, training, data.Vocabularies, 6, data.Train);
        using var positions = new Trainer(model, training, data.Vocabularies, 6, data.Train);
        positions.Model.UseVocabularyProjection = false;
        using var batch = TrainingBatch.From(data.Train.Take(32).ToList());

        Assert.Equal(positions.ComputeGradient(batch).Loss, table.ComputeGradient(batch).Loss, 5);
        TinyModels.AssertClose(positions.Parameters.Gradients.ToArray(), table.Parameters.Gradients.ToArray(), 2e-5);
    }
}
