using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Options;
using Distributed.Sweeps;

namespace Distributed.Sweeps.Tests;

public class SweepSpecTests
{
    const string Base = """
        data: { task: reverse, examples: 500, minLength: 3, maxLength: 6 }
        schedule: { steps: 50, evaluateEvery: 25 }

        """;

    static IReadOnlyList<string> Errors(string yaml, string source = "spec.yaml") => SweepSpecReader.Read(yaml, source).Errors;

    // Each bad spec, and the message that must name what is wrong with it.
    public static TheoryData<string, string> BadSpecs => new()
    {
        { Base + "search: { space: { layers: [1, 2, 7] } }", "search.space.layers[2]: must be 1..4" },
        { Base + "search: { space: { model.layers: [0] } }", "search.space.model.layers[0]: must be 1..4" },
        { Base + "search: { space: { layers: [1, two] } }", "search.space.layers[1]: 'two' is not a whole number" },
        { Base + "search: { space: { model.hiden: [1] } }", "search.space.model.hiden: unknown option 'hiden' in model (did you mean hidden" },
        { Base + "search: { space: { depth: [1] } }", "search.space.depth: unknown option" },
        { Base + "search: { space: { schedule: [constant] } }", "search.space.schedule: ambiguous: say training.teacherForcing.schedule or schedule" },
        { Base + "search: { space: { dropout: [0.1, 1.5] } }", "search.space.dropout[1]: must be in [0, 1)" },
        { Base + "search: { space: { learningRate: { logUniform: [0, 0.1] } }, method: random }", "search.space.learningRate.logUniform: min must be > 0" },
        { Base + "search: { space: { learningRate: { uniform: [0.001, 0.01] } } }", "search.space.learningRate: a uniform range needs search.method: random" },
        { Base + "search: { space: { layers: 3 } }", "search.space.layers: must be a list of values" },
        { Base + "search: { space: { attention: [dot], bidirectional: [true] } }", "search.space: configuration 1 (attention=dot, bidirectional=true): model.attention: dot attention needs" },
        { Base + "modle: { layers: 2 }", "modle: unknown field (did you mean model?)" },
        { Base + "model: { hiddenSize: big }", "model.hiddenSize: 'big' is not a whole number" },
        { Base + "model: { cell: transformer }", "model.cell: 'transformer' must be one of lstm, gru, rnn" },
        { Base + "training: { optimizer: lamb }", "training.optimizer: 'lamb' must be one of adam, adamW, sgd" },
        { Base + "training: { learningRate: -1 }", "training.learningRate: must be > 0" },
        { Base + "training: { batchSize: 0 }", "training.batchSize: must be 1..65536" },
        { Base + "training: { clipThreshold: 0 }", "training.clipThreshold: must be > 0" },
        { Base + "parallel: { workers: 0 }", "parallel.workers: must be 1..16" },
        { Base + "parallel: { exchangeTimeout: soon }", "parallel.exchangeTimeout: 'soon' is not a duration" },
        { Base + "repeats: 0", "repeats: must be 1..100" },
        { Base + "maxConcurrent: 0", "maxConcurrent: must be 1..256" },
        { Base + "objective: { metric: accuracy }", "objective.metric: 'accuracy' must be one of loss, perplexity, tokenAccuracy, exactMatch, bleu" },
        { Base + "earlyStopping: { rule: median, gracePeriod: 10 }", "earlyStopping.gracePeriod: must be at least schedule.evaluateEvery (25)" },
        { Base + "earlyStopping: { rule: asha, gracePeriod: 50 }", "earlyStopping.gracePeriod: must be below schedule.steps (50)" },
        { Base + "earlyStopping: { rule: hyperband }", "earlyStopping.rule: 'hyperband' must be one of none, asha, median" },
        { Base + "search: { method: random, samples: 0 }", "search.samples: must be 1..10000" },
        { "model: [1, 2", "spec.yaml:2:1: While parsing a flow sequence" },
        { Base + "data: { task: copy }", "spec.yaml:3:1: Duplicate key data" },
        { "- just\n- a list", "spec.yaml: a sweep spec is a map of fields" },
        { Base + "search: { space: { tsvPath: ['dataset:12ab'] } }", "search.space.tsvPath[0]: 'dataset:12ab' must be dataset: followed by the file's SHA-256" },
    };

    [Fact]
    public void A_dataset_reference_names_a_sha256_and_optionally_a_file_name()
    {
        var hash = new string('a', 60) + "09ff";
        Assert.Equal($"dataset:{hash}/pairs.tsv", DatasetReference.Format(hash, "pairs.tsv"));
        foreach (var good in new[] { $"dataset:{hash}", $"dataset:{hash}/pairs.tsv" })
        {
            Assert.True(DatasetReference.TryParse(good, out var parsed), good);
            Assert.Equal(hash, parsed);
        }
        foreach (var bad in new[] { "pairs.tsv", $"dataset:{hash.ToUpperInvariant()}", $"dataset:{hash[1..]}", $"dataset:{hash}/a/b.tsv", $"dataset:{hash}/", null })
            Assert.False(DatasetReference.TryParse(bad, out _), bad);
    }

    [Fact]
    public void A_swept_dataset_shows_in_the_results_by_its_file_name_and_a_short_hash()
    {
        string a = new string('a', 60) + "09ff", b = new string('b', 64);
        var (spec, errors) = SweepSpecReader.Read(Base + $$"""
            search:
              space:
                data: [{ tsvPath: 'dataset:{{a}}/short.tsv', maxLength: 12 }, { tsvPath: 'dataset:{{b}}' }]
            """, "spec.yaml");
        Assert.Empty(errors);
        var (trials, problems) = SweepPlan.Expand(spec!);
        Assert.Empty(problems);
        Assert.Equal(["tsvPath=short.tsv@aaaaaaaaaaaa maxLength=12", "tsvPath=dataset:bbbbbbbbbbbb"], trials.Select(t => t.Factors.Single().Value));
        // Only the display is short: the trial's spec keeps the whole reference.
        Assert.Equal($"dataset:{a}/short.tsv", trials[0].Spec.Data.TsvPath);
    }

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public void A_bad_spec_is_refused_with_the_field_named(string yaml, string message)
    {
        var errors = Errors(yaml);
        Assert.True(errors.Any(e => e.StartsWith(message, StringComparison.Ordinal)),
            $"expected an error starting '{message}', got:{Environment.NewLine}{string.Join(Environment.NewLine, errors)}");
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var errors = Errors(Base + "model: { layers: 9, cell: lstm2 }\ntraining: { batchSize: 0 }\nrepeats: 0\nsearch: { space: { dropout: [2] } }");
        Assert.Contains(errors, e => e.StartsWith("model.cell:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("repeats:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("search.space.dropout[0]:", StringComparison.Ordinal));
    }

    [Fact]
    public void Json_errors_name_the_line()
    {
        var errors = Errors("{\n  \"model\": {\n    \"layers\": ,\n  }\n}", "spec.json");
        Assert.Single(errors);
        Assert.StartsWith("spec.json:3:", errors[0]);
    }

    [Fact]
    public void A_grid_expands_to_every_combination_times_the_repeats_with_their_own_seeds()
    {
        var (spec, errors) = SweepSpecReader.Read(Base + """
            model: { embeddingSize: 8, hiddenSize: 16 }
            search:
              space:
                model.layers: [1, 2, 3]
                bidirectional: [false, true]
                training.teacherForcing:
                  - { schedule: constant }
                  - { schedule: inverseSigmoid, decay: 20 }
            repeats: 2
            """, "spec.yaml");
        Assert.Empty(errors);
        var (trials, problems) = SweepPlan.Expand(spec!);
        Assert.Empty(problems);
        Assert.Equal(3 * 2 * 2 * 2, trials.Count);
        Assert.Equal(Enumerable.Range(1, 24), trials.Select(t => t.Number));
        var last = trials[^1];
        Assert.Equal(3, last.Spec.Model.Layers);
        Assert.True(last.Spec.Model.Bidirectional);
        Assert.Equal(SamplingSchedule.InverseSigmoid, last.Spec.Training.TeacherForcing.Schedule);
        Assert.Equal(20, last.Spec.Training.TeacherForcing.Decay);
        Assert.Equal([1UL, 2UL], trials.Where(t => t.Configuration == 1).Select(t => t.Spec.Schedule.Seed));
        Assert.Equal(["model.layers=3", "bidirectional=true", "training.teacherForcing=schedule=inverseSigmoid decay=20"],
            last.Factors.Select(f => $"{f.Factor}={f.Value}"));
        // The base is untouched where the space does not reach.
        Assert.Equal(16, last.Spec.Model.HiddenSize);
    }

    [Fact]
    public void Random_search_is_seeded_and_stays_in_its_ranges()
    {
        const string yaml = Base + """
            search:
              method: random
              samples: 20
              seed: 7
              space:
                learningRate: { logUniform: [0.0001, 0.01] }
                dropout: { uniform: [0.0, 0.5] }
                layers: { intRange: [1, 3] }
                cell: [lstm, gru]
            """;
        var first = SweepPlan.Expand(SweepSpecReader.Read(yaml, "a.yaml").Spec!).Trials;
        var again = SweepPlan.Expand(SweepSpecReader.Read(yaml, "a.yaml").Spec!).Trials;
        Assert.Equal(20, first.Count);
        Assert.Equal(first.Select(t => t.Spec), again.Select(t => t.Spec));
        Assert.All(first, t =>
        {
            Assert.InRange(t.Spec.Training.LearningRate, 1e-4, 1e-2);
            Assert.InRange(t.Spec.Model.Dropout, 0, 0.5);
            Assert.InRange(t.Spec.Model.Layers, 1, 3);
        });
        Assert.True(first.Select(t => t.Spec.Model.Layers).Distinct().Count() > 1);
        Assert.True(first.Select(t => t.Spec.Model.Cell).Distinct().Count() == 2);
    }

    [Fact]
    public void A_map_value_sets_several_fields_of_one_option_together()
    {
        var (spec, errors) = SweepSpecReader.Read(Base + "search: { space: { data: [ { minLength: 10, maxLength: 10 }, { minLength: 20, maxLength: 20 } ] } }", "s.yaml");
        Assert.Empty(errors);
        var trials = SweepPlan.Expand(spec!).Trials;
        Assert.Equal([10, 20], trials.Select(t => t.Spec.Data.MaxLength));
        Assert.All(trials, t => Assert.Equal(500, t.Spec.Data.Examples));
    }

    [Theory]
    [InlineData("quickstart.yaml", 24)]
    [InlineData("comparison-study.yaml", 96)]
    [InlineData("attention-vs-length.json", 12)]
    public void The_samples_are_valid(string file, int trials)
    {
        var (spec, errors) = SweepSpecReader.ReadFile(Path.Combine(RepositoryRoot(), "samples", file));
        Assert.Empty(errors);
        Assert.Equal(trials, SweepPlan.Expand(spec!).Trials.Count);
    }

    [Fact]
    public void Durations_and_defaults_read_as_users_write_them()
    {
        var (spec, errors) = SweepSpecReader.Read(Base + "parallel: { exchangeTimeout: 90s, loadTimeout: 2m }\nobjective: { metric: bleu }", "d.yaml");
        Assert.Empty(errors);
        Assert.Equal(TimeSpan.FromSeconds(90), spec!.Parallel.ExchangeTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), spec.Parallel.LoadTimeout);
        Assert.Equal(ObjectiveMode.Max, spec.Objective.Direction);
        Assert.Equal(CellKind.Lstm, spec.Model.Cell);
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Distributed.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
