using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Distributed.Grains.Training;
using Distributed.Options;

namespace Distributed.Grains.Tests;

// The workers' own allreduces over real loopback links, without Orleans: every worker ends with the same bytes, the
// mean of what they started with, and the same sum of squares, whatever N and however the gradient splits.
public class AllreduceTests
{
    static readonly byte[] Token = RandomNumberGenerator.GetBytes(GradientChannel.TokenBytes);

    /// <summary>Both ends of a fresh loopback link: the one that connected first.</summary>
    static (GradientLink Connecting, GradientLink Accepting) Pair()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.Connect(listener.LocalEndPoint!);
        var server = listener.Accept();
        server.NoDelay = true;
        var challenge = RandomNumberGenerator.GetBytes(GradientChannel.ChallengeBytes);
        return (new GradientLink(client, Token, challenge, coordinator: true), new GradientLink(server, Token, challenge, coordinator: false));
    }

    /// <summary>N workers' allreduces over fresh loopback links; disposing ends their threads and closes the links.</summary>
    sealed record Workers(IGradientAllreduce[] Allreduces, List<GradientLink> Links) : IDisposable
    {
        public void Dispose()
        {
            foreach (var a in Allreduces) a.Dispose();
            foreach (var l in Links) l.Dispose();
        }
    }

    static Workers Build(string kind, int n)
    {
        var links = new List<GradientLink>();
        if (kind == "ring")
        {
            var next = new GradientLink[n];
            var previous = new GradientLink[n];
            for (int r = 0; r < n; r++) (next[r], previous[(r + 1) % n]) = Pair();
            links.AddRange(next.Concat(previous));
            return new(Enumerable.Range(0, n).Select(r => (IGradientAllreduce)new RingAllreduce(r, n, n, next[r], previous[r])).ToArray(), links);
        }
        var partners = Enumerable.Range(0, n).Select(_ => new Dictionary<int, GradientLink>()).ToArray();
        for (int p = 0; p < n; p++)
            foreach (int q in HalvingDoublingAllreduce.Partners(p, n).Where(q => q > p))
            {
                (partners[p][q], partners[q][p]) = Pair();
                links.Add(partners[p][q]);
                links.Add(partners[q][p]);
            }
        return new(Enumerable.Range(0, n).Select(p => (IGradientAllreduce)new HalvingDoublingAllreduce(p, n, n, partners[p])).ToArray(), links);
    }

    static (float[][] Results, double[] Squares) Run(IGradientAllreduce[] allreduces, float[][] gradients, long step, ClipScope scope, ClipMode mode, double threshold)
    {
        var results = gradients.Select(g => g.ToArray()).ToArray();
        var squares = new double[allreduces.Length];
        var failures = new Exception?[allreduces.Length];
        var threads = Enumerable.Range(0, allreduces.Length).Select(r => new Thread(() =>
        {
            try { squares[r] = allreduces[r].Reduce(results[r], step, scope, mode, threshold); }
            catch (Exception e) { failures[r] = e; }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(60)), "an allreduce hung");
        foreach (var e in failures) if (e is not null) throw new Xunit.Sdk.XunitException($"a worker failed: {e}");
        return (results, squares);
    }

    static float[][] Gradients(int n, int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
    }

    [Theory]
    [InlineData("ring", 3, 1001)]
    [InlineData("halving-doubling", 2, 1001)]
    [InlineData("halving-doubling", 3, 1001)]
    [InlineData("halving-doubling", 4, 70_001)]
    [InlineData("halving-doubling", 5, 1001)]
    [InlineData("halving-doubling", 8, 4099)]
    [InlineData("halving-doubling", 8, 5)]
    public void Every_worker_ends_with_the_same_mean_and_the_same_sum_of_squares(string kind, int n, int count)
    {
        using var built = Build(kind, n);
        var allreduces = built.Allreduces;
        for (long step = 1; step <= 2; step++)
        {
            var gradients = Gradients(n, count, (int)step);
            var (results, squares) = Run(allreduces, gradients, step, ClipScope.Global, ClipMode.Norm, 1.0);
            double expectedSquares = 0;
            for (int i = 0; i < count; i++)
            {
                double mean = gradients.Sum(g => (double)g[i]) / n;
                expectedSquares += mean * mean;
                Assert.True(Math.Abs(results[0][i] - mean) <= 1e-6, $"step {step}, element {i}: {results[0][i]} against the mean {mean}");
            }
            for (int r = 1; r < n; r++)
            {
                Assert.True(MemoryMarshal.AsBytes(results[r].AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(results[0].AsSpan())), $"worker {r} ended with other bytes than worker 0");
                Assert.Equal(squares[0], squares[r]);
            }
            Assert.Equal(expectedSquares, squares[0], expectedSquares * 1e-5);
        }
    }

    [Fact]
    public void Global_clipping_by_value_clamps_the_mean_and_reports_its_norm_before()
    {
        using var built = Build("halving-doubling", 4);
        var allreduces = built.Allreduces;
        var gradients = Gradients(4, 3000, seed: 7);
        var (results, squares) = Run(allreduces, gradients, 1, ClipScope.Global, ClipMode.Value, 0.1);
        double expectedSquares = Enumerable.Range(0, 3000).Sum(i => Math.Pow(gradients.Sum(g => (double)g[i]) / 4, 2));
        Assert.All(results, r => Assert.All(r, x => Assert.InRange(x, -0.1f, 0.1f)));
        Assert.Contains(results[0], x => Math.Abs(x) == 0.1f);
        Assert.Equal(expectedSquares, squares[0], expectedSquares * 1e-5);
    }

    // Per-worker clipping by norm with the reduce begun before the worker's norm is known: each scales late what it
    // kept and what arrived, and the pair ends with the mean of the clipped gradients, the same bytes on both.
    [Fact]
    public void A_ring_of_two_scaling_late_ends_with_the_mean_of_the_clipped_gradients()
    {
        using var built = Build("ring", 2);
        var allreduces = built.Allreduces;
        var gradients = Gradients(2, 3001, seed: 11);
        float[] factors = [0.25f, 1f];
        var results = gradients.Select(g => g.ToArray()).ToArray();
        var ready = new ManualResetEventSlim(false);
        var threads = Enumerable.Range(0, 2).Select(r => new Thread(() =>
            // The factor comes after the first hop has started: as the replica thread gives it once the encoder's backward ends.
            ((RingAllreduce)allreduces[r]).ReduceScaledLate(results[r], 1, () => { ready.Wait(); return factors[r]; }, ClipScope.PerWorker, ClipMode.Norm, 1.0))).ToArray();
        foreach (var t in threads) t.Start();
        Thread.Sleep(50);
        ready.Set();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(60)), "an allreduce hung");
        for (int i = 0; i < 3001; i++)
        {
            double mean = (factors[0] * (double)gradients[0][i] + factors[1] * (double)gradients[1][i]) / 2;
            Assert.True(Math.Abs(results[0][i] - mean) <= 1e-6, $"element {i}: {results[0][i]} against the mean of the clipped {mean}");
        }
        Assert.True(MemoryMarshal.AsBytes(results[1].AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(results[0].AsSpan())), "worker 1 ended with other bytes than worker 0");
    }

    [Fact]
    public void Only_a_ring_of_two_scales_late()
    {
        using var built = Build("ring", 3);
        var allreduces = built.Allreduces;
        var error = Assert.Throws<InvalidOperationException>(() => ((RingAllreduce)allreduces[0]).ReduceScaledLate(new float[30], 1, () => 1f, ClipScope.PerWorker, ClipMode.Norm, 1.0));
        Assert.Contains("only a ring of two", error.Message);
    }

    [Theory]
    [InlineData(1, new int[0])]
    [InlineData(4, new[] { 1, 2 })]
    [InlineData(5, new[] { 4, 1, 2 })]
    [InlineData(6, new[] { 4, 1, 2 })]
    [InlineData(8, new[] { 1, 2, 4 })]
    public void Position_0_exchanges_with_one_partner_per_round_and_its_extra(int n, int[] partners)
    {
        Assert.Equal(partners, HalvingDoublingAllreduce.Partners(0, n));
        // Past the power of two a worker talks only to its host.
        if (n is 5 or 6) Assert.Equal([0], HalvingDoublingAllreduce.Partners(4, n));
    }

    [Fact]
    public void A_worker_without_a_link_to_every_partner_is_refused_at_once()
    {
        var error = Assert.Throws<ArgumentException>(() => new HalvingDoublingAllreduce(1, 4, 4, new Dictionary<int, GradientLink>()));
        Assert.Contains("position 1 of 4 needs a link to position 0", error.Message);
    }
}

// A halving-doubling greeting names the position it comes from; anything else is not a partner's.
public class PartnerKeyTests
{
    [Theory]
    [InlineData("pair:3:trial-a/1", 3, "trial-a/1")]
    [InlineData("pair:0:t/0", 0, "t/0")]
    [InlineData("pair:-1:t/0", null, "pair:-1:t/0")]
    [InlineData("pair:x:t/0", null, "pair:x:t/0")]
    [InlineData("pair:99999999999:t/0", null, "pair:99999999999:t/0")]
    [InlineData("ring:t/0", null, "t/0")]
    [InlineData("t/0", null, "t/0")]
    public void A_greeting_key_names_its_partner_position_and_its_replica(string key, int? from, string replica)
    {
        Assert.Equal(from, GradientChannel.PartnerFrom(key));
        Assert.Equal(replica, GradientChannel.ReplicaOf(key));
        if (from is { } position) Assert.Equal(key, GradientChannel.PartnerKey(replica, position));
    }
}
