using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Models;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Grains.Tests;

// The silo checks whatever a caller sends, whatever the client did: oversized or malformed specs straight to the
// grains are refused with an ArgumentException naming the field, quickly, and nothing is recorded or run.
[Collection(SharedCluster.Name)]
[Trait("Category", "Integration")]
public class HostileGrainInputTests(SharedClusterFixture fixture)
{
    static readonly SweepSpec Sweep = SweepTests.Spec("layers: [1]");

    static SearchDimension Values(string path, IEnumerable<int> values) =>
        new() { Path = path, Key = path, Kind = DimensionKind.Values, Values = values.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList() };

    static SweepSpec WithSpace(params SearchDimension[] space) => Sweep with { Search = Sweep.Search with { Space = space } };

    public static TheoryData<string, string> BadSweeps => new()
    {
        { "grid-4x100", "search.space: the grid has 100000000 configurations x 1 repeats = 100000000 trials; at most 10000" },
        { "million-values", "search.space.schedule.seed: needs 1..1000 values" },
        { "null-space", "search.space: is required" },
        { "null-records", "search: is required" },
        { "nan-learning-rate", "training.learningRate: must be > 0" },
        { "nan-range", "search.space.dropout: min and max must be finite numbers" },
        { "unknown-path", "search.space.model.nothing: path must name an option of the trial spec" },
        { "not-json-value", "search.space.model.layers[0]: is not a JSON value" },
        { "huge-name", "name: must be at most 200 characters" },
        { "random-overflow", "search.samples: must be 1..10000" },
        { "null-teacher-forcing", "training.teacherForcing: is required" },
        { "huge-int-range", "search.space.schedule.seed: intRange min and max must be whole numbers within" },
        { "silo-file", "data.tsvPath: '/etc/passwd' is not a dataset: reference; this silo reads only the datasets `distributed submit` stored" },
    };

    static SweepSpec BrokenSweep(string what) => what switch
    {
        "grid-4x100" => WithSpace(Values("schedule.seed", Enumerable.Range(1, 100)), Values("data.seed", Enumerable.Range(1, 100)),
            Values("data.examples", Enumerable.Range(100, 100)), Values("schedule.steps", Enumerable.Range(100, 100))),
        "million-values" => WithSpace(Values("schedule.seed", Enumerable.Range(0, 1_000_000))),
        "null-space" => Sweep with { Search = Sweep.Search with { Space = null! } },
        "null-records" => Sweep with { Search = null!, Objective = null!, EarlyStopping = null!, Model = null! },
        "nan-learning-rate" => Sweep with { Training = Sweep.Training with { LearningRate = double.NaN } },
        "nan-range" => WithSpace(new SearchDimension { Path = "model.dropout", Key = "dropout", Kind = DimensionKind.Uniform, Min = double.NaN, Max = double.PositiveInfinity })
            with { Search = new SearchOptions { Method = SearchMethod.Random, Samples = 2, Space = [new SearchDimension { Path = "model.dropout", Key = "dropout", Kind = DimensionKind.Uniform, Min = double.NaN, Max = double.PositiveInfinity }] } },
        "unknown-path" => WithSpace(new SearchDimension { Path = "model.nothing", Key = "model.nothing", Values = ["1"] }),
        "not-json-value" => WithSpace(new SearchDimension { Path = "model.layers", Key = "model.layers", Values = ["{not json"] }),
        "huge-name" => Sweep with { Name = new string('n', 1_000_000) },
        "random-overflow" => Sweep with { Search = new SearchOptions { Method = SearchMethod.Random, Samples = int.MaxValue }, Repeats = 100 },
        "null-teacher-forcing" => Sweep with { Training = Sweep.Training with { TeacherForcing = null! } },
        "silo-file" => Sweep with { Data = Sweep.Data with { TsvPath = "/etc/passwd" } },
        "huge-int-range" => WithSpace(new SearchDimension { Path = "schedule.seed", Key = "schedule.seed", Kind = DimensionKind.IntRange, Min = 0, Max = 1e300 }),
        _ => throw new ArgumentOutOfRangeException(nameof(what)),
    };

    [Theory]
    [MemberData(nameof(BadSweeps))]
    public async Task A_hostile_sweep_spec_is_refused_naming_the_field_and_no_sweep_is_recorded(string what, string message)
    {
        var id = $"hostile-{what}";
        var sweep = fixture.Cluster.Client.GetGrain<ISweepGrain>(id);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => sweep.SubmitAsync(BrokenSweep(what)).WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        Assert.Contains(message, e.Message);
        Assert.True(e.Message.Split('\n').Length <= OptionErrors.MaxListed + 1, "the message lists every problem of a huge spec");
        Assert.Null(await sweep.GetStatusAsync());
        Assert.DoesNotContain(id, await fixture.Cluster.Client.GetGrain<ISweepIndexGrain>(0).ListAsync());
    }

    public static TheoryData<string, string> BadTrials => new()
    {
        { "hidden-1e9", "trial.model.hiddenSize: must be 1..4096" },
        { "batch-max", "trial.training.batchSize: must be 1..65536" },
        { "examples-max", "trial.data.examples: must be 1..10000000" },
        { "steps-max", "trial.schedule.steps: must be 1..100000000" },
        { "chunk-max", "trial.parallel.exchangeChunkBytes: must be 1024..67108864" },
        { "timeout-max", "trial.parallel.exchangeTimeout: must be at most 01:00:00" },
        { "null-model", "trial.model: is required" },
        { "silo-file", "data.tsvPath: '/dev/zero' is not a dataset: reference; this silo reads only the datasets `distributed submit` stored" },
        { "nan-dropout", "trial.model.dropout: must be in [0, 1)" },
        { "huge-path", "trial.data.tsvPath: must be at most 4096 characters" },
        { "line-length-max", "trial.data.maxLineLength: must be 1..1000000" },
        { "infinite-epsilon", "trial.training.epsilon: must be in (0, 1]" },
        { "checkpoint-max", "trial.schedule.checkpointEvery: must be 1..100000000" },
        { "allreduce-unknown", "trial.parallel.allreduce: must be auto, star, ring, hierarchical or halvingDoubling" },
        { "ring-without-links", "trial.parallel.allreduce: ring, hierarchical and halvingDoubling run over direct links: they need directLinks: true" },
    };

    static TrialSpec BrokenTrial(string what)
    {
        var spec = Specs.Tiny();
        return what switch
        {
            "hidden-1e9" => spec with { Model = spec.Model with { HiddenSize = 1_000_000_000 } },
            "batch-max" => spec with { Training = spec.Training with { BatchSize = int.MaxValue } },
            "examples-max" => spec with { Data = spec.Data with { Examples = int.MaxValue } },
            "steps-max" => spec with { Schedule = spec.Schedule with { Steps = int.MaxValue } },
            "chunk-max" => spec with { Parallel = spec.Parallel with { ExchangeChunkBytes = int.MaxValue } },
            "timeout-max" => spec with { Parallel = spec.Parallel with { ExchangeTimeout = TimeSpan.MaxValue } },
            "null-model" => spec with { Model = null! },
            "nan-dropout" => spec with { Model = spec.Model with { Dropout = double.NaN } },
            "silo-file" => spec with { Data = spec.Data with { TsvPath = "/dev/zero" } },
            "huge-path" => spec with { Data = spec.Data with { TsvPath = new string('p', 1_000_000) } },
            "line-length-max" => spec with { Data = spec.Data with { MaxLineLength = int.MaxValue } },
            "infinite-epsilon" => spec with { Training = spec.Training with { Epsilon = double.PositiveInfinity } },
            "checkpoint-max" => spec with { Schedule = spec.Schedule with { CheckpointEvery = int.MaxValue } },
            "allreduce-unknown" => spec with { Parallel = spec.Parallel with { Allreduce = (Allreduce)99 } },
            "ring-without-links" => spec with { Parallel = spec.Parallel with { Workers = 3, Allreduce = Allreduce.Ring, DirectLinks = false } },
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };
    }

    [Theory]
    [MemberData(nameof(BadTrials))]
    public async Task A_trial_with_absurd_sizes_is_refused_naming_the_field_and_nothing_runs(string what, string message)
    {
        var id = $"hostile-{what}";
        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => fixture.Cluster.Trial(id).StartAsync(BrokenTrial(what)).WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Contains(message, e.Message);
        Assert.Equal(TrialState.Queued, (await fixture.Cluster.Trial(id).GetStatusAsync()).State);
        Assert.Null(fixture.Cluster.FindReplica(id, 0));
    }
}
