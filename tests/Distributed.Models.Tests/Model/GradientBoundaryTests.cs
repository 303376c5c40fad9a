using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Models.Tests.Model;

// A worker may start averaging the decoder's gradients while the encoder's backward still runs: only if, when the
// boundary is reached, the decoder's part of the flat gradient is already what it will be, and the marking changes
// nothing else.
public class GradientBoundaryTests
{
    [Theory]
    [InlineData(CellKind.Lstm, AttentionKind.Additive, 1, false, 0.0)]
    [InlineData(CellKind.Lstm, AttentionKind.None, 2, true, 0.0)]
    [InlineData(CellKind.Gru, AttentionKind.Dot, 2, false, 0.2)]
    [InlineData(CellKind.Rnn, AttentionKind.Multiplicative, 1, true, 0.0)]
    public void When_the_boundary_is_reached_the_decoders_gradients_are_final_and_the_encoders_are_not(CellKind cell, AttentionKind attention,
        int layers, bool bidirectional, double dropout)
    {
        var options = TinyModels.Options(cell, attention) with { Layers = layers, Bidirectional = bidirectional, Dropout = dropout };
        var data = TinyModels.Reverse(64, 3, 6);
        using var marked = new Trainer(options, new TrainingOptions { BatchSize = 16 }, data.Vocabularies, 5, data.Train);
        using var plain = new Trainer(options, new TrainingOptions { BatchSize = 16 }, data.Vocabularies, 5, data.Train);
        using var batch = TrainingBatch.From(data.Train.Take(16).ToList());
        int start = marked.DecoderGradientStart;
        Assert.InRange(start, 1, marked.Parameters.Count - 1);

        float[]? atBoundary = null;
        int calls = 0;
        marked.Model.Generator.manual_seed(11);
        marked.ComputeGradient(batch, () =>
        {
            calls++;
            atBoundary = marked.Parameters.Gradients.ToArray();
        });
        plain.Model.Generator.manual_seed(11);
        plain.ComputeGradient(batch);

        Assert.Equal(1, calls);
        var final = marked.Parameters.Gradients.ToArray();
        // Exact on any CPU: both run the same kernels on the same shapes on this one thread; the boundary only aliases.
        Assert.Equal(plain.Parameters.Gradients.ToArray(), final);
        Assert.Equal(final[start..], atBoundary![start..]);
        // The encoder's part was still zero: its backward had not begun.
        Assert.All(atBoundary[..start], v => Assert.Equal(0f, v));
        Assert.Contains(final[..start], v => v != 0f);
    }

    // The callback runs inside libtorch's backward pass: what it throws must reach the caller of ComputeGradient,
    // after the pass, not unwind through native frames.
    [Fact]
    public void What_the_callback_throws_reaches_the_caller_after_the_backward_pass()
    {
        var data = TinyModels.Reverse(32, 3, 6);
        using var trainer = new Trainer(TinyModels.Options(), new TrainingOptions { BatchSize = 16 }, data.Vocabularies, 5, data.Train);
        using var batch = TrainingBatch.From(data.Train.Take(16).ToList());
        var error = Assert.Throws<TimeoutException>(() => trainer.ComputeGradient(batch, () => throw new TimeoutException("no partner link")));
        Assert.Equal("no partner link", error.Message);
        // The pass still ran to its end: the encoder's gradients are there too.
        Assert.Contains(trainer.Parameters.Gradients[..trainer.DecoderGradientStart].ToArray(), v => v != 0f);
    }
}
