using System.Net;
using System.Net.Sockets;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Training;
using Microsoft.Extensions.DependencyInjection;

namespace Distributed.Grains.Tests;

// The direct gradient link admits only the coordinator of the run, or the previous worker of its ring: a greeting
// without the run's token is dropped and never replaces the attached link, and the trial goes on as if nothing happened.
[Trait("Category", "Integration")]
public class GradientLinkTests
{
    // Through the star the coordinator's link to the worker in the other silo is the one to steal; around the ring,
    // each worker's link from the previous one; halving and doubling, a partner's. Intruders try every kind of greeting on every replica.
    [Theory]
    [InlineData(Allreduce.Star)]
    [InlineData(Allreduce.Ring)]
    [InlineData(Allreduce.HalvingDoubling)]
    public async Task A_greeting_with_a_wrong_token_is_dropped_and_the_trial_records_every_step_once(Allreduce allreduce)
    {
        await using var cluster = await TrainingCluster.StartAsync(2);
        var id = $"link-intruder-{allreduce}";
        const int steps = 300;
        // Small chunks: a worker in the other silo exchanges over the direct link.
        var spec = Specs.Tiny(workers: 2, steps: steps) with
        {
            Parallel = Specs.Tiny(workers: 2).Parallel with { ExchangeChunkBytes = 1024, DirectLinks = true, Allreduce = allreduce },
        };
        await cluster.Trial(id).StartAsync(spec);
        await cluster.WaitAsync(id, s => s.Step >= 20, TimeSpan.FromSeconds(60));

        var endpoints = new List<string>();
        foreach (var silo in cluster.Cluster.Silos)
        {
            var endpoint = await silo.ServiceProvider.GetRequiredService<GradientChannelListener>().Endpoint;
            Assert.NotNull(endpoint);
            // Bound to the silo's own address, not every interface.
            Assert.Equal(silo.SiloAddress.Endpoint.Address, IPEndPoint.Parse(endpoint!).Address);
            endpoints.Add(endpoint!);
        }
        // A valid-looking greeting for each replica of the running trial (run ids count from 1), with a guessed token.
        foreach (var endpoint in endpoints)
            foreach (var key in new[] { 0, 1 }.SelectMany(rank => new[] { WorkerGrain.KeyOf(id, rank), GradientChannel.RingKey(WorkerGrain.KeyOf(id, rank)), GradientChannel.PartnerKey(WorkerGrain.KeyOf(id, rank), 1 - rank) }))
            {
                using var intruder = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await intruder.ConnectAsync(IPEndPoint.Parse(endpoint));
                var challenge = new byte[GradientChannel.ChallengeBytes];
                Assert.Equal(challenge.Length, await intruder.ReceiveAsync(challenge, SocketFlags.None));
                await intruder.SendAsync(GradientChannel.Hello(key, 1, new byte[GradientChannel.TokenBytes], challenge));
                var buffer = new byte[64];
                int read;
                try
                {
                    read = await intruder.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(15));
                }
                catch (SocketException)
                {
                    read = 0;
                }
                Assert.Equal(0, read);
            }

        var status = await cluster.WaitFinishedAsync(id, 180);
        Assert.Equal(TrialState.Completed, status.State);
        Assert.Equal(allreduce == Allreduce.HalvingDoubling ? "halving-doubling" : allreduce.ToString().ToLowerInvariant(), status.Exchange);
        Assert.Equal(0, status.Recoveries);
        var metrics = await cluster.Trial(id).GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, steps).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
    }
}
