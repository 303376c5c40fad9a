using Distributed.Grains.Abstractions.Training;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Grains.Tests;

// Bad options are refused before anything runs, each problem naming its field.
[Collection(SharedCluster.Name)]
[Trait("Category", "Integration")]
public class TrialValidationTests(SharedClusterFixture fixture)
{
    public static TheoryData<string, string> BadSpecs => new()
    {
        { "workers0", "trial.parallel.workers: must be 1..16" },
        { "workers17", "trial.parallel.workers: must be 1..16" },
        { "batch0", "trial.training.batchSize: must be 1..65536" },
        { "negativeRate", "trial.training.learningRate: must be > 0" },
        { "clip0", "trial.training.clipThreshold: must be > 0" },
        { "optimizer", "trial.training.optimizer: must be adam, adamw or sgd" },
        { "timeout", "trial.parallel.exchangeTimeout: must be > 0" },
        { "steps", "trial.schedule.steps: must be 1..100000000" },
    };

    static TrialSpec Broken(string what)
    {
        var spec = Specs.Tiny();
        return what switch
        {
            "workers0" => spec with { Parallel = spec.Parallel with { Workers = 0 } },
            "workers17" => spec with { Parallel = spec.Parallel with { Workers = 17 } },
            "batch0" => spec with { Training = spec.Training with { BatchSize = 0 } },
            "negativeRate" => spec with { Training = spec.Training with { LearningRate = -0.1 } },
            "clip0" => spec with { Training = spec.Training with { ClipThreshold = 0 } },
            "optimizer" => spec with { Training = spec.Training with { Optimizer = (OptimizerKind)42 } },
            "timeout" => spec with { Parallel = spec.Parallel with { ExchangeTimeout = TimeSpan.Zero } },
            "steps" => spec with { Schedule = spec.Schedule with { Steps = 0 } },
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };
    }

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public async Task A_bad_option_is_refused_naming_the_field_and_nothing_runs(string what, string message)
    {
        Assert.Contains(message, Broken(what).Validate());
        var id = $"bad-{what}";
        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => fixture.Cluster.Trial(id).StartAsync(Broken(what)));
        Assert.Contains(message, e.Message);
        var status = await fixture.Cluster.Trial(id).GetStatusAsync();
        Assert.Equal(TrialState.Queued, status.State);
        Assert.Null(fixture.Cluster.FindReplica(id, 0));
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var spec = Specs.Tiny() with
        {
            Parallel = new DataParallelOptions { Workers = 0 },
            Training = new TrainingOptions { BatchSize = 0, LearningRate = -1 },
        };
        var problems = spec.Validate();
        Assert.Contains("trial.parallel.workers: must be 1..16", problems);
        Assert.Contains("trial.training.batchSize: must be 1..65536", problems);
        Assert.Contains(problems, p => p.StartsWith("trial.training.learningRate", StringComparison.Ordinal));
    }
}
