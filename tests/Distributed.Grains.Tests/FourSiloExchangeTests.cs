using Distributed.Grains.Abstractions.Training;
using Distributed.Options;

namespace Distributed.Grains.Tests;

/// <summary>A cluster of four silos, where auto's exchange halves and doubles among them.</summary>
public sealed class FourSiloClusterFixture : IAsyncLifetime
{
    public TrainingCluster Cluster { get; private set; } = null!;
    public async Task InitializeAsync() => Cluster = await TrainingCluster.StartAsync(4);
    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

// Auto across four silos with small gradients: the silos' workers halve and double among themselves (flat with one
// worker per silo, hierarchical with two), and still equal one worker on the union batch.
[Trait("Category", "Integration")]
public class FourSiloExchangeTests(FourSiloClusterFixture fixture) : IClassFixture<FourSiloClusterFixture>
{
    readonly TrainingCluster cluster = fixture.Cluster;

    [Theory]
    [InlineData(4, ClipMode.Norm, "halving-doubling")]
    [InlineData(8, ClipMode.Value, "hierarchical halving-doubling")]
    public async Task Auto_halves_and_doubles_among_four_silos_and_equals_one_worker_on_the_union_batch(int workers, ClipMode clip, string exchange)
    {
        var run = await cluster.AgainstOneWorkerAsync($"four-silos-{workers}", workers, hidden: 16, clip,
            Specs.Tiny(workers).Parallel with { ClipScope = ClipScope.Global, Allreduce = Allreduce.Auto });

        Assert.Equal(exchange, run.Many.Exchange);
        double worst = run.Expected.Zip(run.Actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5, $"after 20 steps the largest parameter difference is {worst}");
    }
}
