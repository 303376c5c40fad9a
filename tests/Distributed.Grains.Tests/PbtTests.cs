using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Grains.Tests;

// Population-based training through real grains: the population pauses together, the worst copies the best's state
// and explores, and every member still trains every step once.
[Collection(SharedCluster.Name)]
[Trait("Category", "Integration")]
public class PbtTests(SharedClusterFixture fixture)
{
    readonly TrainingCluster cluster = fixture.Cluster;

    internal static SweepSpec Spec(int population = 4, int steps = 60, int interval = 20, double resample = 0, string extra = "")
    {
        var yaml = $$"""
            data: { task: reverse, examples: 800, minLength: 3, maxLength: 6, seed: 3 }
            model: { embeddingSize: 8, hiddenSize: 16 }
            training: { batchSize: 16, learningRate: 0.003 }
            schedule: { steps: {{steps}}, evaluateEvery: 20, evaluationExamples: 40, checkpointEvery: 20 }
            search:
              method: pbt
              population: {{population}}
              perturbationInterval: {{interval}}
              resampleProbability: {{resample}}
              seed: 5
              space: { learningRate: { logUniform: [0.0003, 0.03] } }
            maxConcurrent: {{population}}
            objective: { metric: loss }
            {{extra}}
            """;
        var (spec, errors) = SweepSpecReader.Read(yaml, "pbt.yaml");
        Assert.Empty(errors);
        return spec!;
    }

    [Fact]
    public async Task The_worst_member_copies_the_best_members_state_and_goes_on_with_explored_values()
    {
        var sweep = cluster.Client.GetGrain<ISweepGrain>("pbt");
        await sweep.SubmitAsync(Spec());
        var status = await SweepTests.WaitAsync(sweep, TimeSpan.FromSeconds(180));

        Assert.Equal(SweepState.Completed, status.State);
        Assert.All(status.Trials, t => Assert.Equal((TrialState.Completed, 60L), (t.State, t.Step)));
        // Four members, a quarter at each end: one exploit at each of steps 20 and 40.
        Assert.Equal(2, status.Generation);
        Assert.Equal([20L, 40L], status.Exploits.Select(e => e.Step));

        var metrics = new Dictionary<int, TrialMetrics>();
        foreach (var t in status.Trials) metrics[t.Number] = await cluster.Trial(t.TrialId).GetMetricsAsync(-1);
        foreach (var e in status.Exploits)
        {
            // Ranked on the evaluation at the step: the copier was the worst, its source the best.
            var scores = metrics.ToDictionary(m => m.Key, m => m.Value.Evaluations.Single(v => v.Step == e.Step).Loss);
            Assert.Equal(scores.MaxBy(s => s.Value).Key, e.Trial);
            Assert.Equal(scores.MinBy(s => s.Value).Key, e.From);
            Assert.Equal(scores[e.Trial], e.Score);

            // The copy is exact: the next step's loss (before any update) is the source's, on the same weights and batch.
            var copier = metrics[e.Trial].Steps.Single(s => s.Step == e.Step + 1);
            var source = metrics[e.From].Steps.Single(s => s.Step == e.Step + 1);
            Assert.Equal(source.Loss, copier.Loss, 9);
            // It goes on with the explored learning rate: the source's times 0.8 or 1.2, or a fresh draw in the range.
            double explored = JsonNode.Parse(e.Values.Single())!.GetValue<double>();
            Assert.Equal(explored, copier.LearningRate, 12);
            Assert.InRange(explored, 0.0003, 0.03);
            // With no resampling, exploring scales the source's value by 0.8 or 1.2 (within the range).
            double sourceRate = metrics[e.From].Steps.Single(s => s.Step == e.Step).LearningRate;
            Assert.Contains(explored, new[] { 0.8, 1.2 }.Select(f => Math.Clamp(sourceRate * f, 0.0003, 0.03)), new Close(1e-12));
        }
        // A member's factors are the values it took last; it took the state straight from the source's held replicas.
        foreach (var t in status.Trials)
            if (status.Exploits.LastOrDefault(e => e.Trial == t.Number) is { } last)
            {
                Assert.Equal(PopulationBasedTraining.Display(last.Values[0]), t.Factors.Single().Value);
                var copied = (await cluster.Trial(t.TrialId).GetStatusAsync()).LastExploit!;
                Assert.Equal((last.Step, status.Trials.Single(m => m.Number == last.From).TrialId, "workers"), (copied.Step, copied.FromTrialId, copied.Via));
            }
        // Every member trained every step once, exploits or not.
        Assert.All(metrics.Values, m => Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), m.Steps.Select(s => s.Step)));
    }

    sealed class Close(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double value) => 0;
    }
}

// A PBT population survives losing a silo: members resume from their checkpoints, and each perturbation is decided once.
[Trait("Category", "Integration")]
public class PbtFailoverTests
{
    [Fact]
    public async Task A_silo_killed_mid_population_loses_no_member_and_no_exploit_is_decided_twice()
    {
        await using var cluster = await TrainingCluster.StartAsync(3);
        var sweep = cluster.Client.GetGrain<ISweepGrain>("pbt-failover");
        await sweep.SubmitAsync(PbtTests.Spec(steps: 200, interval: 40));
        var deadline = DateTime.UtcNow.AddSeconds(120);
        SweepStatus status;
        while ((status = (await sweep.GetStatusAsync())!).Exploits.Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.NotEmpty(status.Exploits);

        // A silo holding some member's replica, not the one the test's client talks to.
        var primary = cluster.Cluster.Silos[0];
        var victim = status.Trials.Select(t => cluster.FindReplica(t.TrialId, 0)?.Silo).First(s => s is not null && s != primary)!;
        await cluster.Cluster.KillSiloAsync(victim);

        status = await SweepTests.WaitAsync(sweep, TimeSpan.FromSeconds(240));
        Assert.Equal(SweepState.Completed, status.State);
        Assert.All(status.Trials, t => Assert.Equal((TrialState.Completed, 200L), (t.State, t.Step)));
        // Four perturbations (40, 80, 120, 160), one exploit each: none decided twice, none lost.
        Assert.Equal([40L, 80L, 120L, 160L], status.Exploits.Select(e => e.Step));
        Assert.Equal(4, status.Generation);
        foreach (var t in status.Trials)
        {
            var metrics = await cluster.Trial(t.TrialId).GetMetricsAsync(-1);
            Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
        }
    }
}
