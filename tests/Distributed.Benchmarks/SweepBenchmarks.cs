using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Benchmarks;

/// <summary>Sweeps through a real silo: how close scheduling comes to ideal, and what ASHA saves on the quick start.</summary>
public static class SweepBenchmarks
{
    public static string WallTime() => BenchmarkSilo.Measure(async silo =>
    {
        var spec = Read("""
            data: { task: reverse, examples: 2000, minLength: 6, maxLength: 10 }
            model: { embeddingSize: 32, hiddenSize: 64 }
            training: { batchSize: 32, learningRate: 0.003 }
            schedule: { steps: 300, evaluateEvery: 150, evaluationExamples: 100, checkpointEvery: 300 }
            search: { space: { layers: [1, 2], bidirectional: [false, true], dropout: [0.0, 0.1], learningRate: [0.001, 0.003] } }
            maxConcurrent: 2
            """);
        var status = await RunSweepAsync(silo, "wall-time", spec);
        double wall = (status.EndedAt!.Value - status.CreatedAt).TotalSeconds;
        double sum = status.Trials.Sum(t => t.WallTime!.Value.TotalSeconds);
        double ideal = sum / spec.MaxConcurrent;
        return new JsonObject
        {
            ["case"] = "sweep-wall-time",
            ["trials"] = status.Trials.Count,
            ["max_concurrent"] = spec.MaxConcurrent,
            ["sweep_seconds"] = Math.Round(wall, 2),
            ["sum_of_trial_seconds"] = Math.Round(sum, 2),
            ["ideal_seconds"] = Math.Round(ideal, 2),
            ["ratio"] = Math.Round(wall / ideal, 3),
        };
    });

    /// <summary>
    /// The quick start's grid run to the end, then replayed through its own ASHA rule (<see cref="StoppingReplay"/>,
    /// what `distributed replay` does): the steps ASHA would have used, and whether it keeps the grid's winner.
    /// </summary>
    public static string AshaVersusGrid() => BenchmarkSilo.Measure(async silo =>
    {
        var quickstart = SweepSpecReader.ReadFile(Path.Combine(Repository.Root(), "samples", "quickstart.yaml"));
        var asha = quickstart.Spec ?? throw new InvalidOperationException(string.Join("; ", quickstart.Errors));
        var grid = asha with { EarlyStopping = new EarlyStopping { Rule = StoppingRule.None } };
        var full = await RunSweepAsync(silo, "grid", grid);
        var curves = new Dictionary<int, IReadOnlyList<EvaluationMetrics>>();
        foreach (var t in full.Trials) curves[t.Number] = await silo.Grains.GetGrain<ITrialGrain>(t.TrialId).GetEvaluationsAsync(-1);
        var replay = StoppingReplay.Run(full, curves, asha.EarlyStopping);
        var bestGrid = SweepReport.Leaderboard(full, 1)[0];
        return new JsonObject
        {
            ["case"] = "asha-vs-grid",
            ["grid_best"] = string.Join(" ", bestGrid.Factors.Select(f => $"{f.Factor}={f.Value}")),
            ["grid_best_value"] = bestGrid.Best,
            ["asha_keeps_best"] = replay.WinnerKept,
            ["grid_steps"] = full.StepsRun,
            ["asha_steps"] = replay.ReplayedSteps,
            ["stopped_early"] = replay.Trials.Count(t => t.Replayed == TrialState.StoppedEarly),
            ["grid_seconds"] = Math.Round((full.EndedAt!.Value - full.CreatedAt).TotalSeconds, 1),
            ["ratio"] = Math.Round((double)replay.ReplayedSteps / full.StepsRun, 3),
        };
    });

    static SweepSpec Read(string yaml)
    {
        var (spec, errors) = SweepSpecReader.Read(yaml, "benchmark.yaml");
        return spec ?? throw new InvalidOperationException(string.Join("; ", errors));
    }

    static async Task<SweepStatus> RunSweepAsync(BenchmarkSilo silo, string id, SweepSpec spec)
    {
        var sweep = silo.Grains.GetGrain<ISweepGrain>(id);
        await sweep.SubmitAsync(spec);
        SweepStatus status;
        while (!(status = (await sweep.GetStatusAsync())!).IsFinished) await Task.Delay(200);
        return status;
    }
}

static class Repository
{
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Distributed.sln"))) return dir.FullName;
        throw new InvalidOperationException("run the benchmarks from inside the repository");
    }
}
