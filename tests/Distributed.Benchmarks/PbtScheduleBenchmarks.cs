using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Models.Data;
using Distributed.Models.Training;
using Distributed.Sweeps;

namespace Distributed.Benchmarks;

/// <summary>
/// PBT against fixed schedules on date normalisation, with the same total steps: a population of 8 exploring the
/// teacher-forcing ratio and the learning rate, against the grid of the guide's four teacher-forcing schedules
/// (teacher forcing and three scheduled-sampling decays) at two learning rates. Each side's winner is picked by
/// validation exact match and scored on the test split. Training runs in this process with the model library (one
/// thread, no grains) through PBT's own rules (PopulationBasedTraining), so the search is what is measured.
/// </summary>
public static class PbtScheduleBenchmarks
{
    const int Seeds = 10;

    const string Base = """
        data: { task: dateNormalisation, examples: 6000, seed: 7 }
        model: { embeddingSize: 32, hiddenSize: 64, attention: additive }
        training: { learningRate: 0.003, batchSize: 32, lossNormalization: sequences }
        schedule: { steps: 300, evaluateEvery: 50, evaluationExamples: 200 }
        objective: { metric: exactMatch }
        maxConcurrent: 8
        """;

    const string Grid = Base + """

        search:
          method: grid
          space:
            training.learningRate: [0.003, 0.01]
            training.teacherForcing:
              - { schedule: constant, initial: 1.0 }
              - { schedule: linear, initial: 1.0, slope: 0.002, minimum: 0.2 }
              - { schedule: exponential, decay: 0.996, minimum: 0.2 }
              - { schedule: inverseSigmoid, decay: 60, minimum: 0.2 }
        """;

    const string Pbt = Base + """

        search:
          method: pbt
          population: 8
          perturbationInterval: 50
          space:
            training.learningRate: { logUniform: [0.001, 0.03] }
            training.teacherForcing.initial: { uniform: [0.0, 1.0] }
        """;

    public static string PbtVersusFixedSchedules()
    {
        TorchSharp.torch.set_num_threads(1);
        var grid = Read(Grid);
        var pbt = Read(Pbt);
        var data = grid.Data.Load();
        var gridBest = new List<double>();
        var pbtBest = new List<double>();
        var schedules = new JsonArray();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int seed = 1; seed <= Seeds; seed++)
        {
            gridBest.Add(RunGrid(grid with { Schedule = grid.Schedule with { Seed = (ulong)seed } }, data));
            var (score, schedule) = RunPbt(pbt with { Schedule = pbt.Schedule with { Seed = (ulong)(100 * seed) }, Search = pbt.Search with { Seed = (ulong)seed } }, data);
            pbtBest.Add(score);
            schedules.Add(schedule);
        }
        double Median(List<double> v) => v.Order().ToList() is var s ? (s[Seeds / 2 - 1] + s[Seeds / 2]) / 2 : 0;
        return new JsonObject
        {
            ["case"] = "pbt-vs-fixed-schedules",
            ["seeds"] = Seeds,
            ["steps_per_member"] = grid.Schedule.Steps,
            ["total_steps_each"] = 8 * grid.Schedule.Steps,
            ["grid_median_best_test_exact_match"] = Math.Round(Median(gridBest), 4),
            ["pbt_median_best_test_exact_match"] = Math.Round(Median(pbtBest), 4),
            ["pbt_at_least_grid_seeds"] = gridBest.Zip(pbtBest).Count(p => p.Second >= p.First),
            ["grid_best_test_exact_match"] = new JsonArray(gridBest.Select(v => (JsonNode)Math.Round(v, 4)).ToArray()),
            ["pbt_best_test_exact_match"] = new JsonArray(pbtBest.Select(v => (JsonNode)Math.Round(v, 4)).ToArray()),
            ["pbt_winner_schedule_seed_1"] = schedules[0]?.DeepClone(),
            ["ratio"] = Math.Round(Median(pbtBest) / Median(gridBest), 4),
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
        }.ToJsonString();
    }

    static SweepSpec Read(string yaml) => SweepSpecReader.Read(yaml, "pbt-vs-fixed.yaml") is ({ } spec, _) ? spec
        : throw new InvalidOperationException(string.Join("; ", SweepSpecReader.Read(yaml, "pbt-vs-fixed.yaml").Errors));

    /// <summary>Every grid configuration to the end; the one best on validation, scored on the test split.</summary>
    static double RunGrid(SweepSpec sweep, PreparedData data)
    {
        double bestValidation = double.NegativeInfinity, test = 0;
        foreach (var planned in SweepPlan.Expand(sweep).Trials)
        {
            using var trainer = new Trainer(planned.Spec.Model, planned.Spec.Training, data.Vocabularies, planned.Spec.Schedule.Seed, data.Train);
            for (int step = 0; step < planned.Spec.Schedule.Steps; step++) trainer.TrainStep();
            double validation = trainer.Evaluate(data.Valid).ExactMatch;
            if (validation > bestValidation) (bestValidation, test) = (validation, trainer.Evaluate(data.Test).ExactMatch);
        }
        return test;
    }

    /// <summary>
    /// The population in synchronous generations, as the sweep grain runs it: every interval each member is scored on
    /// validation, and PBT's rules decide who copies whom (weights, optimizer, data position through a checkpoint) with
    /// which explored values. The member best on validation at the end is scored on the test split.
    /// </summary>
    static (double Test, JsonNode Schedule) RunPbt(SweepSpec sweep, PreparedData data)
    {
        var planned = SweepPlan.Expand(sweep).Trials;
        var values = planned.ToDictionary(t => t.Number, t => t.Values);
        var trainers = planned.ToDictionary(t => t.Number, t => new Trainer(t.Spec.Model, t.Spec.Training, data.Vocabularies, t.Spec.Schedule.Seed, data.Train));
        var exploits = new List<PbtExploit>();
        try
        {
            var boundaries = PopulationBasedTraining.Boundaries(sweep);
            long at = 0;
            var validation = data.Valid.Take(sweep.Schedule.EvaluationExamples).ToList();
            foreach (long end in boundaries.Append(sweep.Schedule.Steps))
            {
                foreach (var trainer in trainers.Values)
                    for (long step = at; step < end; step++) trainer.TrainStep();
                at = end;
                if (end == sweep.Schedule.Steps) break;
                int generation = PopulationBasedTraining.GenerationAt(sweep, end);
                var members = trainers.Select(m => new PbtMember(m.Key, m.Value.Evaluate(validation).ExactMatch, values[m.Key])).ToList();
                var decided = PopulationBasedTraining.Perturb(sweep, generation, end, members);
                // Every copy is of the state before any copy of this generation, as the grains do it.
                var states = decided.Select(e => e.From).Distinct().ToDictionary(n => n, n => Save(trainers[n]));
                foreach (var e in decided)
                {
                    var spec = PopulationBasedTraining.Configure(sweep, e.Values, planned[e.Trial - 1].Spec.Schedule.Seed).Spec;
                    trainers[e.Trial].Dispose();
                    trainers[e.Trial] = Trainer.Load(new MemoryStream(states[e.From]), data.Train, options: (spec.Model, spec.Training));
                    values[e.Trial] = e.Values;
                }
                exploits.AddRange(decided);
            }
            var winner = trainers.MaxBy(m => m.Value.Evaluate(data.Valid).ExactMatch);
            var schedule = PopulationBasedTraining.Schedule(winner.Key, planned.ToDictionary(t => t.Number, t => t.Values), exploits);
            var described = new JsonArray(schedule.Select(s => (JsonNode)new JsonObject
            {
                ["from"] = s.From,
                ["values"] = string.Join(" ", PopulationBasedTraining.Factors(sweep, s.Values).Select(f => $"{f.Factor}={f.Value}")),
            }).ToArray());
            return (winner.Value.Evaluate(data.Test).ExactMatch, described);
        }
        finally
        {
            foreach (var trainer in trainers.Values) trainer.Dispose();
        }
    }

    static byte[] Save(Trainer trainer)
    {
        var stream = new MemoryStream();
        trainer.Save(stream);
        return stream.ToArray();
    }
}
