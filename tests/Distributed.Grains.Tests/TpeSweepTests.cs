using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Grains.Tests;

// search.method: tpe through real grains: configurations proposed as slots free, recorded, never proposed twice.
[Collection(SharedCluster.Name)]
[Trait("Category", "Integration")]
public class TpeSweepTests(SharedClusterFixture fixture)
{
    readonly TrainingCluster cluster = fixture.Cluster;

    static SweepSpec Tpe(int maxConcurrent)
    {
        var (spec, errors) = SweepSpecReader.Read($$"""
            data: { task: reverse, examples: 800, minLength: 3, maxLength: 6, seed: 3 }
            model: { embeddingSize: 8, hiddenSize: 16 }
            training: { batchSize: 16, learningRate: 0.003 }
            schedule: { steps: 20, evaluateEvery: 20, evaluationExamples: 40, checkpointEvery: 20 }
            search:
              method: tpe
              samples: 6
              startupTrials: 3
              seed: 5
              space: { learningRate: { logUniform: [0.0005, 0.05] }, hiddenSize: [8, 16], dropout: { uniform: [0, 0.3] } }
            maxConcurrent: {{maxConcurrent}}
            objective: { metric: loss }
            """, "tpe.yaml");
        Assert.Empty(errors);
        return spec!;
    }

    [Fact]
    public async Task A_tpe_sweep_proposes_each_configuration_once_and_the_same_ones_again_for_the_same_seed()
    {
        var first = cluster.Client.GetGrain<ISweepGrain>("tpe-a");
        var submitted = await first.SubmitAsync(Tpe(maxConcurrent: 1));
        Assert.Equal(6, submitted.Trials.Count);
        Assert.All(submitted.Trials.Skip(1), t => Assert.Empty(t.Factors));
        var done = await SweepTests.WaitAsync(first, TimeSpan.FromSeconds(120));

        Assert.Equal(SweepState.Completed, done.State);
        Assert.All(done.Trials, t => Assert.Equal(TrialState.Completed, t.State));
        var configurations = done.Trials.Select(t => string.Join(" ", t.Factors.Select(f => $"{f.Factor}={f.Value}"))).ToList();
        Assert.All(done.Trials, t => Assert.Equal(["learningRate", "hiddenSize", "dropout"], t.Factors.Select(f => f.Factor)));
        Assert.Equal(6, configurations.Distinct().Count());

        // One trial at a time, so trials finish in the same order: the same seed proposes the same sequence.
        var second = cluster.Client.GetGrain<ISweepGrain>("tpe-b");
        await second.SubmitAsync(Tpe(maxConcurrent: 1));
        var again = await SweepTests.WaitAsync(second, TimeSpan.FromSeconds(120));
        Assert.Equal(configurations, again.Trials.Select(t => string.Join(" ", t.Factors.Select(f => $"{f.Factor}={f.Value}"))));
    }

    [Fact]
    public async Task The_client_runs_a_tpe_sweep_and_shows_its_proposals()
    {
        var directory = Directory.CreateTempSubdirectory("distributed-tpe-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "tpe.yaml"), """
                name: tpe
                data: { task: reverse, examples: 600, minLength: 3, maxLength: 5 }
                model: { embeddingSize: 8, hiddenSize: 16 }
                training: { batchSize: 16 }
                schedule: { steps: 20, evaluateEvery: 20, evaluationExamples: 30, checkpointEvery: 20 }
                search: { method: tpe, samples: 4, startupTrials: 2, space: { learningRate: { logUniform: [0.001, 0.03] } } }
                """);
            var submit = await Processes.RunAsync("distributed.dll", ["submit", "tpe.yaml", "--wait"], directory);
            Assert.True(submit.Exit == 0, submit.Error);
            var status = await Processes.RunAsync("distributed.dll", ["status", "tpe"], directory);
            Assert.True(status.Exit == 0, status.Error);
            Assert.Contains("4/4 trials finished", status.Output);
            Assert.Contains("TPE proposal 4 of 4", status.Output);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Concurrent_tpe_proposals_are_all_different()
    {
        var sweep = cluster.Client.GetGrain<ISweepGrain>("tpe-concurrent");
        await sweep.SubmitAsync(Tpe(maxConcurrent: 3));
        var done = await SweepTests.WaitAsync(sweep, TimeSpan.FromSeconds(120));
        Assert.Equal(SweepState.Completed, done.State);
        Assert.Equal(6, done.Trials.Select(t => string.Join(" ", t.Factors.Select(f => f.Value))).Distinct().Count());
    }
}
