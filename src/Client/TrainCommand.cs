using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Distributed.Grains.Abstractions.Training;
using Distributed.Models.Data;
using Distributed.Models.Training;
using Distributed.Sweeps;

namespace Distributed.Client;

/// <summary>
/// `train [SPEC.yaml] [--OPTION VALUE ...]`: one local replica, no Orleans; prints progress and the test metrics.
/// It reads the sweep spec format (a spec without a search space) and sets options by name through the same
/// binder, so its defaults are a spec's and a one-trial sweep with the same fields trains the same model.
/// </summary>
public static class TrainCommand
{
    public const string Verb = "train";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "json" };
    public static readonly VerbUsage[] Usage = [new("train [SPEC.yaml] [--OPTION VALUE ...]", "train one replica of a spec's trial and print its metrics;\noptions by field name, defaults as in a spec (train --help)")];

    /// <summary>The trial the command line describes; bad input throws <see cref="SpecException"/> naming each field or flag.</summary>
    public static TrialSpec Resolve(CommandLine cli)
    {
        var file = cli.OptionalPositional();
        var overrides = cli.Rest();
        cli.RejectUnknown();
        var (trial, errors) = TrialOverrides.Resolve(file, overrides);
        if (trial is null) throw new SpecException(errors);
        // A file a spec names is found beside the spec, as submit finds it.
        if (file is not null && trial.Data.TsvPath is { } tsv && !Path.IsPathRooted(tsv))
            trial = trial with { Data = trial.Data with { TsvPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, tsv) } };
        return trial;
    }

    /// <summary>The usage text, listed from the option records themselves with their defaults.</summary>
    public static string FieldUsage()
    {
        var text = new StringBuilder("""
            usage: distributed train [SPEC.yaml] [--OPTION VALUE ...] [--json]
              one replica without Orleans: trains the trial a sweep spec (with no search space) describes, every field
              defaulting as in a spec. --OPTION is a field's path (--model.layers 2) or a name that only one field has
              (--layers 2); VALUE is read as YAML (--teacherForcing "{ schedule: linear, slope: 0.001 }").
              parallel.* and schedule.checkpointEvery are for submit; train runs one replica and writes no checkpoint.
            options (default):

            """);
        foreach (var (path, value) in TrialOverrides.Options()) text.AppendLine($"  --{path} ({value})");
        return text.ToString();
    }

    public static int Run(CommandLine cli, TextWriter output)
    {
        bool json = cli.Flag("json");
        var trial = Resolve(cli);
        var schedule = trial.Schedule;

        TorchSharp.torch.set_num_threads(1);
        NativeHeap.Configure();
        var prepared = trial.Data.Load();
        using var trainer = new Trainer(trial.Model, trial.Training, prepared.Vocabularies, schedule.Seed, prepared.Train);
        var valid = schedule.EvaluatedOf(prepared.Valid);
        output.WriteLine($"task {(trial.Data.TsvPath ?? trial.Data.Task.ToString())}: {prepared.Train.Count} train / {prepared.Valid.Count} valid / {prepared.Test.Count} test, " +
                         $"{trainer.Parameters.Count:N0} parameters, {schedule.Steps} steps");
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        int lossCount = 0;
        for (int step = 1; step <= schedule.Steps; step++)
        {
            var report = trainer.TrainStep();
            if (!report.Applied)
            {
                output.WriteLine($"step {step}: loss {report.Loss} is not finite: training diverged");
                return 1;
            }
            lossSum += report.Loss;
            lossCount++;
            if ((step % schedule.EvaluateEvery == 0 || step == schedule.Steps) && valid.Count > 0)
            {
                var eval = trainer.Evaluate(valid, schedule.BeamWidth);
                output.WriteLine($"step {step,5}  loss {lossSum / lossCount:F4}  grad-norm {report.GradientNorm:F3}  valid: exact {eval.ExactMatch:P1}  " +
                                 $"token-acc {eval.TokenAccuracy:P1}  ppl {eval.Perplexity:F3}  bleu {eval.Bleu:F1}  ({step / clock.Elapsed.TotalSeconds:F0} steps/s)");
                lossSum = 0;
                lossCount = 0;
            }
        }
        if (prepared.Test.Count == 0)
        {
            output.WriteLine("the test split is empty (data.testFraction): no test figures");
            return 0;
        }
        var test = trainer.Evaluate(prepared.Test, schedule.BeamWidth);
        if (json)
            output.WriteLine(JsonSerializer.Serialize(new { test.ExactMatch, test.TokenAccuracy, test.Perplexity, test.Bleu, test.Loss, test.Examples }, Checkpoint.Json));
        else
            output.WriteLine($"test ({test.Examples} examples, beam {schedule.BeamWidth}): exact match {test.ExactMatch:P2}, token accuracy {test.TokenAccuracy:P2}, " +
                             $"perplexity {test.Perplexity:F3}, BLEU {test.Bleu:F2}");
        return 0;
    }
}
