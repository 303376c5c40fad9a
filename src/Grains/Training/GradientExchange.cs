using System.Numerics;
using System.Runtime.InteropServices;
using Distributed.Grains.Abstractions.Training;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Grains.Training;

/// <summary>The averaged gradient of a step, and the factor global norm clipping scales it by when it is applied.</summary>
sealed record Averaged(double Norm, float Scale);

/// <summary>
/// The coordinator's side of a trial's gradient exchange: which way each worker's gradient travels (kept by a lone
/// worker; inline within a silo or when small; over a direct link; in chunks through Orleans), the links, the
/// collection of a step's gradients and the delivery of their mean. The worker's side is <see cref="ReplicaExchange"/>.
/// </summary>
sealed class GradientExchange(TrialRun run, string silo, IGrainFactory grains, CancellationToken cancel) : IDisposable
{
    readonly IWorkerGrain[] workers = Enumerable.Range(0, run.Spec.Parallel.Workers)
        .Select(rank => grains.GetGrain<IWorkerGrain>(WorkerGrain.KeyOf(run.TrialId, rank))).ToArray();
    // Parameters from which the mean of gradients already here is split across the cores.
    const int ParallelMeanFrom = 1 << 16;
    readonly DataParallelOptions parallel = run.Spec.Parallel;
    readonly TrainingOptions training = run.Spec.Training;
    GradientRoute[] routes = [];
    GradientLink?[] links = [];
    byte[]?[] received = [];
    List<Task> pendingSends = [];
    byte[]? average;
    int chunks;
    int parameterCount;
    // What the run's ring is, as its status names it: set with the places.
    string ringTopology = "ring";

    /// <summary>The trial's workers by rank.</summary>
    public IWorkerGrain[] Workers => workers;

    /// <summary>True when the trial has one worker: it keeps and applies its own gradient, so there is nothing to exchange.</summary>
    public bool Lone => workers.Length == 1;

    /// <summary>Chooses each loaded replica's route and connects the links, proving the run's token to each.</summary>
    public async Task OpenAsync(ReplicaReady[] ready, byte[] linkToken)
    {
        Dispose();
        parameterCount = ready[0].Parameters;
        average = null;
        long bytes = parameterCount * (long)sizeof(float);
        int perChunk = parallel.ExchangeChunkBytes;
        chunks = bytes > perChunk ? (int)Math.Min(64, (bytes + perChunk - 1) / perChunk) : 0;
        links = new GradientLink?[workers.Length];
        received = new byte[]?[workers.Length];
        if (Ring(ready, bytes))
        {
            routes = Enumerable.Repeat(GradientRoute.Ring, workers.Length).ToArray();
            var places = Places(ready, bytes);
            ringTopology = (places.Any(p => p.Group.Length > 1), places[0].HalvingDoubling) switch
            {
                (true, true) => "hierarchical halving-doubling",
                (true, false) => "hierarchical",
                (false, true) => "halving-doubling",
                _ => "ring",
            };
            await WorkerCalls.Within(workers.Select((w, rank) => w.JoinRingAsync(run.RunId, places[rank])).ToArray(),
                parallel.LoadTimeout, "join the workers' ring", cancel);
            return;
        }
        // Small gradients go whole with the step reply even to another silo: one message beats three.
        routes = ready.Select(r => workers.Length == 1 ? GradientRoute.Keep
            : r.Silo == silo || chunks == 0 ? GradientRoute.Inline
            : parallel.DirectLinks && r.Link is not null ? GradientRoute.Link : GradientRoute.Chunks).ToArray();
        for (int rank = 0; rank < workers.Length; rank++)
        {
            if (routes[rank] != GradientRoute.Link) continue;
            links[rank] = await GradientChannel.ConnectAsync(ready[rank].Link!, WorkerGrain.KeyOf(run.TrialId, rank), run.RunId, linkToken, cancel)
                .WaitAsync(parallel.LoadTimeout, cancel);
            received[rank] = new byte[bytes];
        }
    }

    /// <summary>True when this run's loaded workers average among themselves (<see cref="AmongWorkers"/>).</summary>
    bool Ring(ReplicaReady[] ready, long bytes) => AmongWorkers(parallel, workers.Length, ready.All(r => r.Link is not null),
        ready.Select(r => r.Silo).Distinct().Count(), bytes);

    /// <summary>
    /// True when the workers average among themselves: asked for, or on auto when the workers span silos and their
    /// gradients are past the chunk size (the star's hub would carry 2(N−1) of them; within one silo it shares
    /// buffers and copies nothing), or are small enough for their silos' leaders to halve and double; and every
    /// worker's silo offers a direct link.
    /// </summary>
    internal static bool AmongWorkers(DataParallelOptions parallel, int workers, bool everyLink, int silos, long bytes) =>
        workers >= 2 && parallel.DirectLinks && everyLink && parallel.Allreduce switch
        {
            Allreduce.Ring or Allreduce.Hierarchical or Allreduce.HalvingDoubling => true,
            Allreduce.Auto => silos > 1 && (bytes > parallel.ExchangeChunkBytes || HalvesAmong(silos, bytes)),
            _ => false,
        };

    /// <summary>
    /// Each rank's place: hierarchical, the workers of a silo form a group led by its lowest rank and the leaders ring
    /// (or halve and double) in rank order; flat, every worker is its own group.
    /// </summary>
    RingPlace[] Places(ReplicaReady[] ready, long bytes)
    {
        var ranks = Enumerable.Range(0, workers.Length);
        var groups = (parallel.Allreduce is Allreduce.Ring or Allreduce.HalvingDoubling
            ? ranks.Select(r => new[] { r })
            : ranks.GroupBy(r => ready[r].Silo).Select(g => g.Order().ToArray())).OrderBy(g => g[0]).ToArray();
        bool halves = parallel.Allreduce == Allreduce.HalvingDoubling
            || parallel.Allreduce != Allreduce.Ring && HalvesAmong(groups.Length, bytes);
        int[]? leaderRanks = halves ? groups.Select(g => g[0]).ToArray() : null;
        string?[]? leaderLinks = leaderRanks?.Select(r => ready[r].Link).ToArray();
        // Every worker must split its allreduce alike, so either all overlap or none: one per silo, nothing to gather first.
        bool overlap = parallel.OverlapExchange && groups.All(g => g.Length == 1) && OverlapsBackward(parallel.ClipScope, training.Clip, groups.Length, halves);
        var places = new RingPlace[workers.Length];
        for (int g = 0; g < groups.Length; g++)
        {
            int next = groups[(g + 1) % groups.Length][0];
            foreach (int rank in groups[g]) places[rank] = new RingPlace(groups[g], g, groups.Length, next, ready[next].Link, leaderRanks, leaderLinks, overlap);
        }
        return places;
    }

    /// <summary>
    /// Whether the clipping lets the decoder's gradients be summed before the encoder's backward ends: global clipping
    /// acts on the mean, and per-worker clipping by value clamps element by element; per-worker clipping by norm
    /// needs the whole gradient's norm, which only a ring of two can apply late (its first hop carries raw halves,
    /// every later hop of a longer ring a sum).
    /// </summary>
    internal static bool OverlapsBackward(ClipScope scope, ClipMode clip, int leaders, bool halving) =>
        scope == ClipScope.Global || clip != ClipMode.Norm || leaders == 2 && !halving;

    /// <summary>
    /// Auto and hierarchical: whether the leaders halve and double rather than ring. Both move the same bytes over a
    /// worker's links; halving and doubling does it in 2 log2 N messages, not 2(N − 1), which wins where a message's
    /// fixed cost counts: up to 1 MB it took 0.66–0.95 of the ring's time at N = 4 and 8, but at 4 MB 1.07–1.13, as its
    /// first halves no longer stay in cache while they are summed (`allreduce-loopback`). It needs a power of two, or
    /// it sends whole gradients to and from the leaders past one. Auto takes it over the star's replies for small
    /// gradients too: 0.62 and 0.94 of the star's cost at 4 and 8 silo processes on one machine (`exchange-scaling`),
    /// and the hub's 2(N − 1) gradients gone on a real network (docs/scaling.md).
    /// </summary>
    internal static bool HalvesAmong(int leaders, long bytes) => leaders >= 4 && BitOperations.IsPow2(leaders) && bytes <= HalvingDoublingUpToBytes;

    /// <summary>The largest gradient the leaders halve and double on auto: between the measured 1 MB, where it wins, and 4 MB, where it loses.</summary>
    internal const long HalvingDoublingUpToBytes = 2 << 20;

    /// <summary>True when this run's workers average around a ring (flat or hierarchical), not through the coordinator.</summary>
    bool Ringed => routes is [GradientRoute.Ring, ..];

    /// <summary>
    /// How the gradients travel this run: "ring", "halving-doubling", "hierarchical" (a ring of silos), "hierarchical
    /// halving-doubling", "star" through the coordinator; null for one worker.
    /// </summary>
    public string? Topology => Lone ? null : Ringed ? ringTopology : "star";

    /// <summary>
    /// True when the workers need the coordinator only every few steps: a lone worker, or a ring, whose workers
    /// average among themselves and agree on global clipping's factor without it.
    /// </summary>
    public bool Stretches => Lone || Ringed;

    /// <summary>
    /// The workers apply <paramref name="last"/> (the lone worker's own gradient, or the mean the ring left) and
    /// compute the next steps in one call each; the steps' gradients by step, then by rank. The first step may compare checksums.
    /// </summary>
    public async Task<WorkerGradient[][]> StretchAsync(long at, Averaged? last, int steps, bool checksum)
    {
        var route = Lone ? GradientRoute.Keep : GradientRoute.Ring;
        var first = new WorkerStep(run.RunId, at, Compute: true, Checksum: checksum)
        {
            Apply = last is null ? AverageSource.None : Lone ? AverageSource.Own : AverageSource.Ring,
            Scale = last?.Scale ?? 1f,
            Route = route,
        };
        var replies = await WorkerCalls.Within(workers.Select(w => w.StretchAsync(first, steps)).ToArray(),
            parallel.ExchangeTimeout * steps, $"compute steps {at + 1}..{at + steps}", cancel);
        // Every worker stops at the same step (a ring stops on the mean, which all share); the shortest bounds them anyway.
        int done = replies.Min(r => r.Length);
        return Enumerable.Range(0, done).Select(i => replies.Select(r => r[i]).ToArray()).ToArray();
    }

    /// <summary>
    /// Sends each worker the previous average (inline, or already sent over its link or in chunks) and collects this
    /// step's gradients: inline in the replies, read from the links meanwhile, or fetched in chunks when averaged.
    /// </summary>
    public async Task<WorkerGradient[]> StepAsync(long at, Averaged? last, bool compute, bool checksum)
    {
        var calls = workers.Select((w, rank) => w.StepAsync(new WorkerStep(run.RunId, at, compute, checksum)
        {
            Apply = last is null ? AverageSource.None : routes[rank] switch
            {
                GradientRoute.Inline => AverageSource.Inline,
                GradientRoute.Link => AverageSource.Link,
                GradientRoute.Keep => AverageSource.Own,
                GradientRoute.Ring => AverageSource.Ring,
                _ => AverageSource.Chunks,
            },
            Average = last is not null && routes[rank] == GradientRoute.Inline ? average : null,
            Scale = last?.Scale ?? 1f,
            Route = routes[rank],
        })).ToArray();
        // The links' reads start with the calls, so the bytes flow while the replies are on their way.
        var transfers = new List<Task>(pendingSends);
        if (compute)
            for (int rank = 0; rank < workers.Length; rank++)
                if (links[rank] is { } link) transfers.Add(link.ReceiveAsync(at, received[rank], $"worker {rank}", cancel));
        pendingSends = [];
        var replies = await WorkerCalls.Within(calls, parallel.ExchangeTimeout, $"exchange gradients of step {at + 1}", cancel);
        await WorkerCalls.Within(transfers.ToArray(), parallel.ExchangeTimeout, $"transfer gradients of step {at + 1} over its link", cancel);
        return replies;
    }

    /// <summary>
    /// Averages the gradients of step <paramref name="step"/> chunk by chunk: as soon as every worker's slice of a
    /// chunk is here its mean goes back out, so the uploads of one chunk overlap the downloads of another. Global
    /// clipping by value clamps here; by norm it needs the whole mean's norm first, so the workers apply that factor.
    /// </summary>
    public async Task<Averaged> AverageAsync(WorkerGradient[] gradients, long step)
    {
        if (Lone) return new Averaged(gradients[0].PreClipNorm, 1f);
        if (Ringed) return Clipped(gradients, [gradients[0].MeanSquares]);
        int count = parameterCount;
        var mean = average ??= new byte[count * sizeof(float)];
        var remote = Enumerable.Range(0, workers.Length).Where(r => routes[r] == GradientRoute.Chunks).ToArray();
        // With every gradient here, the pieces are only for the cores: the replicas wait for this mean, so it may use them all.
        int pieces = remote.Length > 0 ? Math.Max(chunks, 1) : count >= ParallelMeanFrom ? Math.Min(Environment.ProcessorCount, 8) : 1;
        var squares = new double[pieces];

        async Task Chunk(int chunk)
        {
            var (start, length) = Replica.ChunkBounds(count, chunk, pieces);
            var fetched = remote.Length == 0 ? [] : await WorkerCalls.Within(
                remote.Select(r => workers[r].GetGradientChunkAsync(run.RunId, step, chunk, pieces)).ToArray(),
                parallel.ExchangeTimeout, $"send gradient chunk {chunk} of step {step + 1}", cancel);
            var slices = new List<ReadOnlyMemory<float>>(workers.Length);
            for (int rank = 0, next = 0; rank < workers.Length; rank++)
                slices.Add(routes[rank] switch
                {
                    GradientRoute.Inline => GradientBytes.AsFloats(gradients[rank].Gradient!).Slice(start, length),
                    GradientRoute.Link => GradientBytes.AsFloats(received[rank]!).Slice(start, length),
                    _ => GradientBytes.AsFloats(fetched[next++]),
                });
            // Plain arithmetic, but it scales with workers x parameters: keep it off the grain's turn.
            squares[chunk] = await Task.Run(() => GradientAverager.MeanChunk(slices,
                MemoryMarshal.Cast<byte, float>(mean.AsSpan(start * sizeof(float), length * sizeof(float))),
                parallel.ClipScope, training.Clip, training.ClipThreshold));
            if (remote.Length > 0)
            {
                var outgoing = mean.AsSpan(start * sizeof(float), length * sizeof(float)).ToArray();
                await WorkerCalls.Within(remote.Select(r => workers[r].PutAverageChunkAsync(run.RunId, step, chunk, pieces, outgoing)).ToArray(),
                    parallel.ExchangeTimeout, $"receive averaged chunk {chunk} of step {step + 1}", cancel);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, pieces).Select(Chunk));
        // Not awaited here: a worker reads its average only when the next request reaches it.
        pendingSends = links.Where(l => l is not null).Select(l => l!.SendAsync(step, mean, cancel)).ToList();
        return Clipped(gradients, squares);
    }

    /// <summary>
    /// Per-worker clipping reports what the workers saw before clipping; global clipping the norm of the mean (from
    /// its slices' sums of squares) and the factor the workers scale it by.
    /// </summary>
    Averaged Clipped(WorkerGradient[] gradients, IEnumerable<double> squares)
    {
        if (parallel.ClipScope != ClipScope.Global) return new Averaged(gradients.Average(g => g.PreClipNorm), 1f);
        var (norm, scale) = GradientAverager.GlobalClip(squares, training.Clip, training.ClipThreshold);
        return new Averaged(norm, scale);
    }

    public void Dispose()
    {
        foreach (var link in links) link?.Dispose();
        links = [];
        pendingSends = [];
    }
}
