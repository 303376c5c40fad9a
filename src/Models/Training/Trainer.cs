using Distributed.Models.Data;
using Distributed.Models.Network;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Distributed.Options;

namespace Distributed.Models.Training;

/// <summary>Loss, token count and teacher-forcing probability of one gradient computation.</summary>
public sealed record GradientReport(double Loss, long Tokens, double TeacherProbability)
{
    public bool IsFinite => double.IsFinite(Loss);
}

/// <summary>A decoded input: the output text, the source and output tokens, and attention[output step][source position].</summary>
public sealed record Translation(string Output, IReadOnlyList<string> SourceTokens, IReadOnlyList<string> OutputTokens, IReadOnlyList<float[]> Attention);

/// <summary>What one local training step did.</summary>
public sealed record StepReport(long Step, double Loss, double GradientNorm, double LearningRate, double TeacherProbability, long Tokens, bool Applied);

/// <summary>
/// One model replica and its optimizer: the single-replica API that the worker grains drive. A step is
/// <see cref="ComputeGradient"/> → (exchange) → <see cref="ClipGradient"/> → <see cref="OptimizerStep"/>;
/// <see cref="TrainStep(TrainingBatch)"/> does all three locally. Gradients and weights are flat spans.
/// </summary>
public sealed class Trainer : IDisposable
{
    readonly FlatOptimizer optimizer;

    // Given the training split, a replica draws its own batches; as worker `rank` of `worldSize` it takes that slice of every global batch.
    public Trainer(ModelOptions model, TrainingOptions training, Vocabularies vocabularies, ulong seed,
        IReadOnlyList<EncodedExample>? trainExamples = null, int rank = 0, int worldSize = 1)
    {
        ModelOptions = model.EnsureValid();
        Options = training.EnsureValid();
        Vocabularies = vocabularies;
        Seed = seed;
        Model = new Seq2SeqModel(model, vocabularies.Source.Count, vocabularies.Target.Count, seed);
        Parameters = new FlatParameters(Model.OrderedParameters());
        DecoderGradientStart = (int)Model.EncoderParameterCount;
        optimizer = new FlatOptimizer(training, Parameters.Count);
        if (trainExamples is not null) Batches = new BatchStream(trainExamples, training.BatchSize, seed, training.BucketByLength, rank, worldSize);
    }

    public ModelOptions ModelOptions { get; }
    public TrainingOptions Options { get; }
    public Vocabularies Vocabularies { get; }
    public ulong Seed { get; }
    public Seq2SeqModel Model { get; }
    public FlatParameters Parameters { get; }
    /// <summary>Where the bridge's and decoder's values start in the flat gradient: after the encoder's.</summary>
    public int DecoderGradientStart { get; }
    /// <summary>Batches of this replica's shard, when it was given one.</summary>
    public BatchStream? Batches { get; }
    /// <summary>Optimizer steps taken.</summary>
    public long Step { get; private set; }
    internal FlatOptimizer Optimizer => optimizer;

    /// <summary>
    /// Forward and backward on <paramref name="batch"/>; the (unclipped) gradient is left in <see cref="FlatParameters.Gradients"/>.
    /// <paramref name="decoderGradientsReady"/> is called during the backward pass, on this thread, once the values from
    /// <see cref="DecoderGradientStart"/> to the end are final: the encoder's are still being computed.
    /// </summary>
    public GradientReport ComputeGradient(TrainingBatch batch, Action? decoderGradientsReady = null)
    {
        using var scope = NewDisposeScope();
        Parameters.ZeroGradients();
        Model.train();
        double teacher = Options.TeacherForcing.TeacherProbability(Step);
        // The callback runs inside libtorch's backward: an exception unwinding through its native frames ends the
        // process, so what it throws is held and thrown here once the pass is done.
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? failed = null;
        Action? reached = decoderGradientsReady is null ? null : () =>
        {
            try { decoderGradientsReady(); }
            catch (Exception e) { failed = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e); }
        };
        var logits = Model.Logits(batch.Source, batch.DecoderInputs, teacher, reached);
        var loss = Loss(logits, batch.Targets);
        loss.backward();
        failed?.Throw();
        return new GradientReport(loss.item<float>(), batch.TargetTokens, teacher);
    }

    Tensor Loss(Tensor logits, Tensor targets)
    {
        var flatLogits = logits.reshape(-1, logits.shape[2]);
        var flatTargets = targets.reshape(-1);
        return Options.LossNormalization == LossNormalization.Tokens
            ? F.cross_entropy(flatLogits, flatTargets, ignore_index: Vocabulary.Pad, label_smoothing: Options.LabelSmoothing)
            : F.cross_entropy(flatLogits, flatTargets, ignore_index: Vocabulary.Pad, reduction: TorchSharp.torch.nn.Reduction.Sum,
                label_smoothing: Options.LabelSmoothing) / targets.shape[0];
    }

    /// <summary>Clips the flat gradient as the options say; returns its L2 norm before clipping.</summary>
    public double ClipGradient() => GradientClipping.Clip(Parameters.Gradients, Options.Clip, Options.ClipThreshold);

    /// <summary>Replaces the local gradient with one computed elsewhere (the averaged gradient of all workers).</summary>
    public void SetGradient(ReadOnlySpan<float> gradient)
    {
        if (gradient.Length != Parameters.Count)
            throw new ArgumentException($"gradient has {gradient.Length} values, the model has {Parameters.Count} parameters");
        gradient.CopyTo(Parameters.Gradients);
    }

    /// <summary>Applies the gradient in the flat buffer; returns the learning rate used.</summary>
    public double OptimizerStep()
    {
        double lr = LearningRateSchedule.At(Options, Step);
        optimizer.Step(Parameters.Values, Parameters.Gradients, lr);
        Step++;
        return lr;
    }

    /// <summary>Compute, clip, update. A non-finite loss or gradient leaves the weights untouched and says so.</summary>
    public StepReport TrainStep(TrainingBatch batch)
    {
        var gradient = ComputeGradient(batch);
        double norm = ClipGradient();
        if (!gradient.IsFinite || !double.IsFinite(norm))
            return new StepReport(Step, gradient.Loss, norm, LearningRateSchedule.At(Options, Step), gradient.TeacherProbability, gradient.Tokens, false);
        double lr = OptimizerStep();
        return new StepReport(Step, gradient.Loss, norm, lr, gradient.TeacherProbability, gradient.Tokens, true);
    }

    /// <summary>One local step on the next batch of this replica's shard.</summary>
    public StepReport TrainStep()
    {
        if (Batches is null) throw new InvalidOperationException("this trainer was built without a training shard");
        using var batch = TrainingBatch.From(Batches.Next());
        return TrainStep(batch);
    }

    /// <summary>Loss, perplexity, token accuracy, exact match and BLEU on <paramref name="examples"/>.</summary>
    public EvaluationReport Evaluate(IReadOnlyList<EncodedExample> examples, int beamWidth = 1, int batchSize = 256)
        => Evaluation.Run(this, examples, beamWidth, batchSize);

    /// <summary>Decodes raw source text with greedy (width 1) or beam search.</summary>
    public string Translate(string source, int beamWidth = 1) => Evaluation.Translate(this, [source], beamWidth)[0];

    /// <summary>Decodes raw source text and keeps the attention weights (empty without attention).</summary>
    public Translation TranslateWithAttention(string source, int beamWidth = 1) => Evaluation.TranslateWithAttention(this, source, beamWidth);

    public void Save(Stream stream) => Checkpoint.Write(this, stream);

    /// <summary>Rebuilds a trainer from a checkpoint alone; give it the training split (and its rank) to go on training exactly where it stopped.</summary>
    /// <summary>A trainer from a checkpoint; with <paramref name="options"/>, going on with those instead of the stored ones (same model shape).</summary>
    public static Trainer Load(Stream stream, IReadOnlyList<EncodedExample>? trainExamples = null, int rank = 0, int worldSize = 1,
        (ModelOptions Model, TrainingOptions Training)? options = null)
        => Checkpoint.Read(stream, trainExamples, rank, worldSize, options);

    internal void Restore(long step) => Step = step;

    public void Dispose()
    {
        Parameters.Dispose();
        Model.Dispose();
    }
}
