using Distributed.Models.Data;
using Distributed.Models.Training;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Tests.Model;

public class TrainingTests
{
    static TrainingOptions Quick => new() { BatchSize = 16, LearningRate = 3e-3 };

    [Fact]
    public void Gradients_accumulate_into_the_flat_buffer_and_the_optimizer_moves_the_model()
    {
        var data = TinyModels.Reverse(200, 3, 6);
        using var trainer = new Trainer(TinyModels.Options(), Quick, data.Vocabularies, 1, data.Train);
        using var batch = TrainingBatch.From(data.Train.Take(16).ToList());
        trainer.ComputeGradient(batch);
        Assert.True(trainer.Parameters.IsBound());
        Assert.True(GradientClipping.L2Norm(trainer.Parameters.Gradients) > 0);
        // The flat gradient is what backward wrote into every parameter's .grad.
        var fromParameters = trainer.Model.OrderedParameters().SelectMany(p => TinyModels.Values(p.grad!)).ToArray();
        Assert.Equal(fromParameters, trainer.Parameters.Gradients.ToArray());

        using var scope = NewDisposeScope();
        var before = TinyModels.Values(trainer.Model.Logits(batch.Source, batch.DecoderInputs, 1.0));
        trainer.OptimizerStep();
        var after = TinyModels.Values(trainer.Model.Logits(batch.Source, batch.DecoderInputs, 1.0));
        Assert.NotEqual(before, after);
        Assert.True(trainer.Parameters.IsBound());
    }

    [Fact]
    public void Scheduled_sampling_with_all_coins_on_truth_equals_teacher_forcing()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Model(TinyModels.Options());
        using var batch = TrainingBatch.From(TinyModels.Reverse(8, 4, 6).Train);
        var forced = model.Logits(batch.Source, batch.DecoderInputs, 1.0);
        var sampled = model.Logits(batch.Source, batch.DecoderInputs, 0.99999999);
        TinyModels.AssertClose(TinyModels.Values(forced), TinyModels.Values(sampled), 1e-5);
        var ownPredictions = model.Logits(batch.Source, batch.DecoderInputs, 0.0);
        Assert.NotEqual(TinyModels.Values(forced), TinyModels.Values(ownPredictions));
    }

    [Fact]
    public void Resuming_from_a_checkpoint_is_exact()
    {
        var data = TinyModels.Reverse(300, 3, 7);
        // Everything random is in play: dropout, recurrent dropout, scheduled-sampling coins, shuffled batches.
        var model = TinyModels.Options() with { Dropout = 0.2, RecurrentDropout = 0.2, Layers = 2 };
        var training = Quick with { TeacherForcing = new ScheduledSampling { Schedule = SamplingSchedule.Linear, Slope = 0.05 } };

        using var straight = new Trainer(model, training, data.Vocabularies, 9, data.Train);
        for (int i = 0; i < 16; i++) straight.TrainStep();

        using var first = new Trainer(model, training, data.Vocabularies, 9, data.Train);
        for (int i = 0; i < 8; i++) first.TrainStep();
        var stream = new MemoryStream();
        first.Save(stream);
        stream.Position = 0;
        using var resumed = Trainer.Load(stream, data.Train);
        Assert.Equal(8, resumed.Step);
        for (int i = 0; i < 8; i++) resumed.TrainStep();

        Assert.Equal(16, resumed.Step);
        Assert.Equal(straight.Parameters.Values.ToArray(), resumed.Parameters.Values.ToArray());
    }

    [Fact]
    public void A_checkpoint_loads_with_new_mutable_options_keeping_weights_and_optimizer_state_exactly()
    {
        var data = TinyModels.Reverse(200, 3, 6);
        using var source = new Trainer(TinyModels.Options(), Quick, data.Vocabularies, 4, data.Train);
        for (int i = 0; i < 6; i++) source.TrainStep();
        var stream = new MemoryStream();
        source.Save(stream);

        // What a PBT member that copied this one goes on with: its explored dropout and learning rate.
        var model = TinyModels.Options() with { Dropout = 0.3 };
        var training = Quick with { LearningRate = Quick.LearningRate * 1.2, LabelSmoothing = 0.1 };
        stream.Position = 0;
        using var copy = Trainer.Load(stream, data.Train, options: (model, training));
        Assert.Equal(source.Step, copy.Step);
        Assert.Equal(source.Parameters.Values.ToArray(), copy.Parameters.Values.ToArray());
        Assert.Equal(OptimizerState(source), OptimizerState(copy));
        Assert.Equal((0.3, Quick.LearningRate * 1.2, 0.1), (copy.ModelOptions.Dropout, copy.Options.LearningRate, copy.Options.LabelSmoothing));

        // Another shape of model cannot take these weights: refused, naming the shapes.
        stream.Position = 0;
        var refused = Assert.Throws<InvalidDataException>(() => Trainer.Load(stream, data.Train, options: (model with { HiddenSize = 24 }, training)));
        Assert.Contains("is not the shape asked for", refused.Message);
    }

    static byte[] OptimizerState(Trainer trainer)
    {
        var bytes = new MemoryStream();
        using (var writer = new BinaryWriter(bytes, System.Text.Encoding.UTF8, leaveOpen: true)) trainer.Optimizer.WriteTo(writer);
        return bytes.ToArray();
    }

    [Fact]
    public void A_checkpoint_alone_can_be_loaded_and_decoded()
    {
        var data = TinyModels.Reverse(100, 3, 5);
        using var trainer = new Trainer(TinyModels.Options(), Quick, data.Vocabularies, 2, data.Train);
        trainer.TrainStep();
        var stream = new MemoryStream();
        trainer.Save(stream);
        stream.Position = 0;
        using var loaded = Trainer.Load(stream);
        Assert.Equal(trainer.Translate("1234", beamWidth: 3), loaded.Translate("1234", beamWidth: 3));
        Assert.Equal(trainer.Vocabularies.Target.Tokens, loaded.Vocabularies.Target.Tokens);
    }

    [Fact]
    public void A_corrupt_checkpoint_is_refused_with_a_reason()
    {
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Load(new MemoryStream(new byte[64])));
        Assert.Contains("not a Distributed checkpoint", e.Message);
    }

    [Fact]
    public void A_truncated_or_damaged_checkpoint_is_refused_before_anything_is_loaded()
    {
        var data = TinyModels.Reverse(100, 3, 5);
        using var trainer = new Trainer(TinyModels.Options(), Quick, data.Vocabularies, 2, data.Train);
        trainer.TrainStep();
        var stream = new MemoryStream();
        trainer.Save(stream);
        var bytes = stream.ToArray();
        Assert.Null(Checkpoint.Problem(bytes));

        var truncated = bytes[..(bytes.Length / 2)];
        Assert.Equal($"truncated or padded: {truncated.Length - 48:N0} of {bytes.Length - 48:N0} bytes of content", Checkpoint.Problem(truncated));
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Load(new MemoryStream(truncated)));
        Assert.StartsWith("truncated or padded", e.Message);

        // One flipped bit among the weights: the length is right, the checksum is not.
        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length - 100] ^= 0x10;
        Assert.Equal($"checksum mismatch over its {bytes.Length - 48:N0} bytes: it was damaged", Checkpoint.Problem(flipped));
        Assert.Throws<InvalidDataException>(() => Trainer.Load(new MemoryStream(flipped)));

        // A version-1 file (no checksum) still loads; one cut inside its generator state is refused, not handed to
        // libtorch, which would abort the process.
        var version1 = bytes[..4].Concat(BitConverter.GetBytes(1)).Concat(bytes[48..]).ToArray();
        using (var legacy = Trainer.Load(new MemoryStream(version1))) Assert.Equal(trainer.Step, legacy.Step);
        var cut = Assert.Throws<InvalidDataException>(() => Trainer.Load(new MemoryStream(version1[..^100])));
        Assert.Contains("random generator state", cut.Message);
    }

    [Fact]
    public void Options_name_every_bad_field()
    {
        var errors = new ModelOptions { Layers = 5, HiddenSize = 0, Dropout = 1.2 }.Validate()
            .Concat(new ModelOptions { Attention = AttentionKind.Dot, Bidirectional = true }.Validate())
            .Concat(new TrainingOptions { LearningRate = -1, BatchSize = 0, ClipThreshold = 0 }.Validate()).ToList();
        Assert.Contains("model.layers: must be 1..4", errors);
        Assert.Contains("model.hiddenSize: must be 1..4096", errors);
        Assert.Contains("model.dropout: must be in [0, 1)", errors);
        Assert.Contains(errors, e => e.StartsWith("model.attention: dot attention needs", StringComparison.Ordinal));
        Assert.Contains("training.learningRate: must be > 0", errors);
        Assert.Contains("training.batchSize: must be 1..65536", errors);
        Assert.Contains("training.clipThreshold: must be > 0", errors);
    }

    [Fact]
    public void Lstm_with_additive_attention_learns_to_reverse_lengths_8_to_12()
    {
        set_num_threads(1);
        var data = new DataOptions { Task = BuiltInTaskKind.Reverse, Examples = 40000, MinLength = 8, MaxLength = 12, Seed = 5 }.Load();
        var model = new ModelOptions { EmbeddingSize = 32, HiddenSize = 64, Attention = AttentionKind.Additive };
        var training = new TrainingOptions { LearningRate = 5e-3, BatchSize = 64, Decay = LearningRateDecay.Cosine, DecaySteps = 900 };
        using var trainer = new Trainer(model, training, data.Vocabularies, 5, data.Train);
        for (int step = 0; step < 900; step++) Assert.True(trainer.TrainStep().Applied);
        var report = trainer.Evaluate(data.Test.Take(1000).ToList());
        Assert.True(report.ExactMatch >= 0.99, $"exact match {report.ExactMatch:P2} after 900 steps");
    }
}
