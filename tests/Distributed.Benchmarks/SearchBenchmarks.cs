using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Models.Data;
using Distributed.Models.Training;
using Distributed.Sweeps;

namespace Distributed.Benchmarks;

/// <summary>
/// TPE against random search on the same space, trial budget and seeds: each trial trains for real (the model
/// library, one thread, no grains: the search is what is measured) and scores its validation token accuracy.
/// </summary>
public static class SearchBenchmarks
{
    const int Seeds = 10, Budget = 64, Steps = 60;
    static readonly int[] Checkpoints = [16, 32, 64];

    // Five options, the learning rate log-uniform; reverse 4-6 digits is learnable in 60 steps only with a good setting.
    const string Yaml = """
        data: { task: reverse, examples: 600, minLength: 4, maxLength: 6, seed: 3 }
        model: { embeddingSize: 16, hiddenSize: 32 }
        training: { batchSize: 32 }
        schedule: { steps: 60, evaluateEvery: 60, evaluationExamples: 60 }
        search:
          method: random
          samples: 64
          space:
            learningRate: { logUniform: [0.0001, 0.1] }
            hiddenSize: [8, 16, 32, 64]
            attention: [none, dot, additive]
            dropout: { uniform: [0, 0.5] }
            batchSize: [8, 16, 32, 64]
        objective: { metric: tokenAccuracy }
        """;

    public static string TpeVersusRandom()
    {
        TorchSharp.torch.set_num_threads(1);
        var (spec, errors) = SweepSpecReader.Read(Yaml, "tpe-vs-random.yaml");
        if (spec is null) throw new InvalidOperationException(string.Join("; ", errors));
        var data = spec.Data.Load();
        var random = new List<double[]>();
        var tpe = new List<double[]>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int seed = 1; seed <= Seeds; seed++)
        {
            var sweep = spec with { Search = spec.Search with { Seed = (ulong)seed } };
            random.Add(BestSoFar(SweepPlan.Expand(sweep).Trials.Select(t => Score(t.Spec, data)).ToList()));
            tpe.Add(BestSoFar(RunTpe(sweep with { Search = sweep.Search with { Method = SearchMethod.Tpe, StartupTrials = 10 } }, data)));
        }
        double Median(List<double[]> runs, int trials) => runs.Select(r => r[trials - 1]).Order().ToList() is var v ? (v[Seeds / 2 - 1] + v[Seeds / 2]) / 2 : 0;
        var line = new JsonObject { ["case"] = "tpe-vs-random", ["seeds"] = Seeds, ["steps_per_trial"] = Steps };
        foreach (var n in Checkpoints)
        {
            line[$"random_median_best_{n}"] = Math.Round(Median(random, n), 4);
            line[$"tpe_median_best_{n}"] = Math.Round(Median(tpe, n), 4);
        }
        // The bar: TPE's median after 32 trials against random search's after 64.
        double target = Median(random, 64);
        int reached = Enumerable.Range(1, Budget).FirstOrDefault(n => Median(tpe, n) >= target);
        line["tpe_trials_to_random_64"] = reached == 0 ? null : reached;
        line["ratio"] = Math.Round(Median(tpe, 32) / target, 4);
        line["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        return line.ToJsonString();
    }

    static List<double> RunTpe(SweepSpec sweep, PreparedData data)
    {
        var proposals = new List<IReadOnlyList<string>>();
        var trials = new List<SweepTrial>();
        var scores = new List<double>();
        for (int n = 0; n < Budget; n++)
        {
            proposals.Add(TpeSearch.Propose(sweep, proposals, trials));
            var planned = SweepPlan.Expand(sweep, proposals).Trials[^1];
            double score = Score(planned.Spec, data);
            scores.Add(score);
            trials.Add(new SweepTrial { Number = n + 1, TrialId = $"tpe/{n + 1}", Configuration = n + 1, Factors = planned.Factors, State = TrialState.Completed, Best = score });
        }
        return scores;
    }

    /// <summary>Validation token accuracy after training the trial's spec for its steps.</summary>
    static double Score(TrialSpec spec, PreparedData data)
    {
        using var trainer = new Trainer(spec.Model, spec.Training, data.Vocabularies, spec.Schedule.Seed, data.Train);
        for (int step = 0; step < spec.Schedule.Steps; step++)
        {
            var report = trainer.TrainStep();
            if (!double.IsFinite(report.Loss)) return 0;
        }
        return trainer.Evaluate(data.Valid.Take(spec.Schedule.EvaluationExamples).ToList()).TokenAccuracy;
    }

    static double[] BestSoFar(IReadOnlyList<double> scores)
    {
        var best = new double[scores.Count];
        for (int i = 0; i < scores.Count; i++) best[i] = Math.Max(scores[i], i > 0 ? best[i - 1] : double.MinValue);
        return best;
    }
}
