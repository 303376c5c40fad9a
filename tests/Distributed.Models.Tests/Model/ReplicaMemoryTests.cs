using Distributed.Grains.Abstractions.Training;
using Distributed.Models.Network;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Models.Tests.Model;

public class ReplicaMemoryTests
{
    // The memory estimate counts weights from the options alone; it must count what the model really builds.
    [Theory]
    [InlineData(CellKind.Lstm, 1, false, AttentionKind.Additive, false)]
    [InlineData(CellKind.Lstm, 3, true, AttentionKind.Multiplicative, true)]
    [InlineData(CellKind.Gru, 2, true, AttentionKind.None, false)]
    [InlineData(CellKind.Rnn, 2, false, AttentionKind.Dot, true)]
    [InlineData(CellKind.Gru, 1, true, AttentionKind.Additive, true)]
    public void Parameter_count_from_the_options_is_the_models_own(CellKind cell, int layers, bool bidirectional, AttentionKind attention, bool layerNorm)
    {
        var options = new ModelOptions
        {
            Cell = cell, Layers = layers, Bidirectional = bidirectional, Attention = attention, LayerNorm = layerNorm,
            EmbeddingSize = 12, HiddenSize = attention == AttentionKind.Dot && bidirectional ? 8 : 16, AttentionSize = 10,
        };
        if (attention == AttentionKind.Dot) options = options with { Bidirectional = false };
        using var model = new Seq2SeqModel(options, 23, 31, seed: 1);
        long actual = model.OrderedParameters().Sum(p => p.numel());
        Assert.Equal(actual, ReplicaMemory.ParameterCount(options, 23, 31));
    }

    [Fact]
    public void The_estimate_grows_with_what_sizes_memory_and_names_the_largest_share()
    {
        var spec = new TrialSpec();
        var baseline = ReplicaMemory.Of(spec);
        var bigBatch = spec with { Training = spec.Training with { BatchSize = 4096 } };
        var wide = spec with { Model = spec.Model with { HiddenSize = 4096 } };
        Assert.True(ReplicaMemory.Of(bigBatch).Activations > 30 * baseline.Activations);
        Assert.Contains("training.batchSize (4096)", ReplicaMemory.Of(bigBatch).Shrink(bigBatch));
        Assert.True(ReplicaMemory.Of(wide).Parameters > 100 * baseline.Parameters);
        Assert.Contains("model.hiddenSize (4096)", ReplicaMemory.Of(wide).Shrink(wide));
        // A TSV corpus with default options fits the Kubernetes silo's default budget (80% of its 4 GiB limit) several times over;
        // words cost more than characters, because their vocabulary is only bounded by data.maxVocabulary.
        var characters = spec with { Data = spec.Data with { TsvPath = "dataset:" + new string('a', 64) } };
        var words = characters with { Data = characters.Data with { Tokenization = TokenizationKind.Word } };
        Assert.InRange(ReplicaMemory.Of(characters).Total, 1, (long)(0.8 * (4L << 30)) / 4);
        Assert.True(ReplicaMemory.Of(words).Total > ReplicaMemory.Of(characters).Total);
        // With a batch of one, the weights of a 32,000-word vocabulary are the largest share.
        var lean = words with { Training = words.Training with { BatchSize = 1 } };
        Assert.Contains("data.maxVocabulary (32000)", ReplicaMemory.Of(lean).Shrink(lean));
        // Two workers split the batch: each replica keeps half the activations.
        var two = spec with { Parallel = spec.Parallel with { Workers = 2 } };
        Assert.InRange(ReplicaMemory.Of(two).Activations, baseline.Activations / 2 - 1, baseline.Activations / 2 + 1);
    }
}
