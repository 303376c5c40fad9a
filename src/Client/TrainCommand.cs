using System.Diagnostics;
using System.Text.Json;
using Distributed.Models;
using Distributed.Models.Data;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Client;

/// <summary>
/// `train`: one local replica on a built-in task or a TSV file; prints progress and the test metrics.
/// Sweeps run the same trainer through the grains; this is the path without Orleans.
/// </summary>
public static class TrainCommand
{
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "bidirectional", "layer-norm", "json", "skip-bad-lines" };

    public static int Run(CommandLine cli, TextWriter output)
    {
        var data = new DataOptions
        {
            Task = cli.Enum("task", BuiltInTaskKind.Reverse),
            TsvPath = cli.Text("tsv"),
            Examples = cli.Int("examples", 40000),
            MinLength = cli.Int("min-length", 8),
            MaxLength = cli.Int("max-length", 12),
            Tokenization = cli.Enum("tokens", TokenizationKind.Character),
            SkipBadLines = cli.Flag("skip-bad-lines"),
            Seed = (ulong)cli.Int("seed", 1),
        };
        var model = new ModelOptions
        {
            Cell = cli.Enum("cell", CellKind.Lstm),
            EmbeddingSize = cli.Int("embedding", 32),
            HiddenSize = cli.Int("hidden", 64),
            Layers = cli.Int("layers", 1),
            Bidirectional = cli.Flag("bidirectional"),
            Dropout = cli.Double("dropout", 0),
            RecurrentDropout = cli.Double("recurrent-dropout", 0),
            LayerNorm = cli.Flag("layer-norm"),
            Attention = cli.Enum("attention", AttentionKind.Additive),
        };
        int steps = cli.Int("steps", 1200);
        var training = new TrainingOptions
        {
            Optimizer = cli.Enum("optimizer", OptimizerKind.Adam),
            LearningRate = cli.Double("lr", 5e-3),
            BatchSize = cli.Int("batch", 64),
            ClipThreshold = cli.Double("clip", 1.0),
            WarmupSteps = cli.Int("warmup", 0),
            Decay = cli.Enum("decay", LearningRateDecay.Cosine),
            DecaySteps = cli.Int("decay-steps", steps),
        };
        int evalEvery = cli.Int("eval-every", 200);
        int beam = cli.Int("beam", 1);
        bool json = cli.Flag("json");
        cli.RejectUnknown();

        var errors = data.Validate().Concat(model.Validate()).Concat(training.Validate()).ToList();
        if (steps < 1) errors.Add("--steps: must be >= 1");
        if (evalEvery < 1) errors.Add("--eval-every: must be >= 1");
        if (beam < 1) errors.Add("--beam: must be >= 1");
        if (errors.Count > 0) throw new UsageException(string.Join(Environment.NewLine, errors));

        TorchSharp.torch.set_num_threads(1);
        NativeHeap.Configure();
        var prepared = data.Load();
        using var trainer = new Trainer(model, training, prepared.Vocabularies, data.Seed, prepared.Train);
        var valid = prepared.Valid.Take(500).ToList();
        output.WriteLine($"task {(data.TsvPath ?? data.Task.ToString())}: {prepared.Train.Count} train / {prepared.Valid.Count} valid / {prepared.Test.Count} test, " +
                         $"{trainer.Parameters.Count:N0} parameters");
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        int lossCount = 0;
        for (int step = 1; step <= steps; step++)
        {
            var report = trainer.TrainStep();
            if (!report.Applied)
            {
                output.WriteLine($"step {step}: loss {report.Loss} is not finite: training diverged");
                return 1;
            }
            lossSum += report.Loss;
            lossCount++;
            if (step % evalEvery == 0 || step == steps)
            {
                var eval = trainer.Evaluate(valid);
                output.WriteLine($"step {step,5}  loss {lossSum / lossCount:F4}  grad-norm {report.GradientNorm:F3}  valid: exact {eval.ExactMatch:P1}  " +
                                 $"token-acc {eval.TokenAccuracy:P1}  ppl {eval.Perplexity:F3}  bleu {eval.Bleu:F1}  ({step / clock.Elapsed.TotalSeconds:F0} steps/s)");
                lossSum = 0;
                lossCount = 0;
            }
        }
        var test = trainer.Evaluate(prepared.Test, beam);
        if (json)
            output.WriteLine(JsonSerializer.Serialize(new { test.ExactMatch, test.TokenAccuracy, test.Perplexity, test.Bleu, test.Loss, test.Examples }, Checkpoint.Json));
        else
            output.WriteLine($"test ({test.Examples} examples, beam {beam}): exact match {test.ExactMatch:P2}, token accuracy {test.TokenAccuracy:P2}, " +
                             $"perplexity {test.Perplexity:F3}, BLEU {test.Bleu:F2}");
        return 0;
    }
}
