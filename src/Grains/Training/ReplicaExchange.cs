using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Distributed.Grains.Abstractions.Training;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Grains.Training;

/// <summary>
/// A worker's side of the gradient exchange (<see cref="GradientExchange"/> is the coordinator's): where the
/// average to apply comes from, and how the gradient just computed goes back: whole in the reply, over the
/// coordinator's direct link, kept for the coordinator to fetch in chunks, or averaged around the workers' ring.
/// </summary>
sealed class ReplicaExchange(string key, ReplicaHost host) : IDisposable
{
    readonly object linkLock = new();
    readonly ManualResetEventSlim linkReady = new(false);
    readonly ManualResetEventSlim previousReady = new(false);
    GradientLink? link;
    // The ring's links: to the next worker (this one connected) and from the previous (it connected here).
    GradientLink? next, previous;
    // Halving and doubling's links, by the partner's position: those this worker connected and those that connected here.
    readonly Dictionary<int, GradientLink> partners = [];
    readonly ManualResetEventSlim partnerArrived = new(false);
    IGradientAllreduce? ring;
    RingPlace? place;
    SiloGroup? group;
    WorkerAssignment? assignment;
    // The inline reply's copy of the gradient, reused each step: the coordinator has read it before the next request.
    byte[]? reply;
    float[]? assembled;
    // The decoder's bucket: averaged on its own thread while the encoder's backward runs on the replica's.
    SideThread? bucket;
    bool bucketStarted;
    // Per-worker clipping by norm: this worker's factor, known once the encoder's backward ends, for the bucket's ring to apply late.
    TaskCompletionSource<float>? lateFactor;
    double bucketSquares, bucketLocalSquares;
    int bucketStart;

    /// <summary>A new run (or none): its link must greet with its token, and nothing of the last run's is kept.</summary>
    public void Reset(WorkerAssignment? work)
    {
        lock (linkLock)
        {
            linkReady.Reset();
            previousReady.Reset();
            link?.Dispose();
            next?.Dispose();
            previous?.Dispose();
            link = next = previous = null;
            foreach (var partner in partners.Values) partner.Dispose();
            partners.Clear();
            ring?.Dispose();
            ring = null;
            // The last run's group goes with it: members still waiting on this replica stop now.
            if (group is not null && assignment is not null) host.Forget(assignment.TrialId, assignment.RunId, group, new OperationCanceledException($"replica {key} left run {assignment.RunId}"));
            (place, group) = (null, null);
            assignment = work;
        }
        reply = null;
        assembled = null;
    }

    /// <summary>Puts the step's average (scaled by global clipping's factor) into the trainer's gradient, ready for the update.</summary>
    public void Apply(WorkerStep step, Trainer trainer)
    {
        var gradients = trainer.Parameters.Gradients;
        switch (step.Apply)
        {
            case AverageSource.Inline:
                trainer.SetGradient(MemoryMarshal.Cast<byte, float>(step.Average ?? throw new ArgumentException("an inline average without values")));
                break;
            case AverageSource.Chunks:
                trainer.SetGradient(assembled ?? throw new InvalidOperationException($"replica {key} received no averaged chunks"));
                break;
            case AverageSource.Own:
            case AverageSource.Ring:
                break;
            case AverageSource.Link:
                // Straight into the flat gradient: no copy on this side.
                Link().Receive(step.Step - 1, MemoryMarshal.AsBytes(gradients), "the coordinator");
                break;
        }
        if (step.Scale != 1f) GradientClipping.Scale(gradients, step.Scale);
    }

    /// <summary>
    /// True when this step may start averaging the decoder's gradients during the backward pass, as the coordinator
    /// placed every worker of the run (<see cref="RingPlace.OverlapBackward"/>, under <see cref="GradientExchange.OverlapsBackward"/>):
    /// one per group, so no shared-memory gather comes first.
    /// </summary>
    public bool Overlaps(WorkerStep step) => step.Route == GradientRoute.Ring && place is { OverlapBackward: true, Leaders: > 1 };

    /// <summary>
    /// Called by the backward pass once the values from <see cref="Trainer.DecoderGradientStart"/> on are final: their
    /// allreduce starts on the bucket thread while the encoder's backward goes on here.
    /// </summary>
    public unsafe void StartDecoderBucket(WorkerStep step, Trainer trainer)
    {
        var spec = assignment!.Spec;
        var (scope, mode, threshold) = (spec.Parallel.ClipScope, spec.Training.Clip, spec.Training.ClipThreshold);
        bucketStart = trainer.DecoderGradientStart;
        var tail = trainer.Parameters.Gradients[bucketStart..];
        double norm = GradientClipping.L2Norm(tail);
        bucketLocalSquares = norm * norm;
        // Clamping is element by element: this worker's own clipping of the bucket needs nothing of the rest.
        if (scope == ClipScope.PerWorker && mode == ClipMode.Value) GradientClipping.ClampValues(tail, (float)threshold);
        var allreduce = Ring(place!);
        // The flat gradient is native memory: it stays put while the bucket thread works in it.
        var values = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(tail));
        int count = tail.Length;
        bucket ??= new SideThread($"bucket {key}");
        if (scope == ClipScope.PerWorker && mode == ClipMode.Norm)
        {
            var two = allreduce as RingAllreduce ?? throw new InvalidOperationException($"replica {key}: per-worker clipping by norm overlaps only a ring of two");
            var factor = lateFactor = new TaskCompletionSource<float>(TaskCreationOptions.RunContinuationsAsynchronously);
            var timeout = spec.Parallel.ExchangeTimeout;
            bucket.Start(() => bucketSquares = two.ReduceScaledLate(new Span<float>((float*)values, count), step.Step, () => FactorWithin(factor, timeout),
                scope, mode, threshold));
        }
        else
            bucket.Start(() => bucketSquares = allreduce.Reduce(new Span<float>((float*)values, count), step.Step, scope, mode, threshold));
        bucketStarted = true;
    }

    static float FactorWithin(TaskCompletionSource<float> factor, TimeSpan timeout) =>
        factor.Task.Wait(timeout) ? factor.Task.Result : throw new TimeoutException($"the encoder's backward did not end within {timeout.TotalSeconds:0.###} s");

    /// <summary>
    /// Per-worker clipping of the gradient just computed; returns its norm before clipping. With the decoder's bucket
    /// out, the head is clipped here by the whole gradient's norm, and the bucket's ring scales the tail by the same
    /// factor when both workers know theirs (<see cref="RingAllreduce.ReduceScaledLate"/>).
    /// </summary>
    public double ClipOwn(Trainer trainer)
    {
        if (!bucketStarted) return trainer.ClipGradient();
        var (mode, threshold) = (assignment!.Spec.Training.Clip, assignment.Spec.Training.ClipThreshold);
        double norm = LocalNorm(trainer);
        float factor = GradientClipping.ClipPart(trainer.Parameters.Gradients[..bucketStart], norm, mode, threshold);
        lateFactor?.TrySetResult(factor);
        return norm;
    }

    /// <summary>The norm of the gradient this worker computed (the decoder's bucket may be a mean already by now).</summary>
    public double LocalNorm(Trainer trainer)
    {
        var all = trainer.Parameters.Gradients;
        if (!bucketStarted) return GradientClipping.L2Norm(all);
        double head = GradientClipping.L2Norm(all[..bucketStart]);
        return Math.Sqrt(head * head + bucketLocalSquares);
    }

    /// <summary>A step that failed after its bucket started: the ring is broken on purpose, and the bucket's work ends before the gradient is touched again.</summary>
    public void AbandonBucket()
    {
        if (!bucketStarted) return;
        bucketStarted = false;
        lateFactor?.TrySetCanceled();
        lateFactor = null;
        Abort();
        bucket!.Wait(rethrow: false);
    }

    /// <summary>
    /// Sends the gradient just computed the step's way; the bytes for the reply when it goes inline, else null. Around
    /// the ring the gradient becomes the mean here, and <paramref name="meanSquares"/> is what global clipping needs of it.
    /// </summary>
    public byte[]? Deliver(WorkerStep step, Trainer trainer, out double meanSquares)
    {
        meanSquares = 0;
        var gradients = MemoryMarshal.AsBytes(trainer.Parameters.Gradients);
        switch (step.Route)
        {
            case GradientRoute.Ring when bucketStarted:
                // The decoder's bucket first: the same links carry the rest next, in the same order on every worker.
                bucketStarted = false;
                lateFactor = null;
                bucket!.Wait();
                Telemetry.TrainingMeter.OverlappedSteps.Add(1, Telemetry.TrainingMeter.Trial(assignment!.TrialId));
                meanSquares = bucketSquares + Reduce(trainer.Parameters.Gradients[..bucketStart], step.Step);
                return null;
            case GradientRoute.Ring:
                meanSquares = Reduce(trainer.Parameters.Gradients, step.Step);
                return null;
            case GradientRoute.Link:
                Link().Send(step.Step, gradients);
                return null;
            case GradientRoute.Inline:
                reply ??= new byte[gradients.Length];
                gradients.CopyTo(reply);
                return reply;
            default:
                return null;
        }
    }

    /// <summary>
    /// A copy of one slice of the gradient just computed. It runs on the grain, not the replica thread: between a
    /// step's reply and the next step's request nothing writes the gradient.
    /// </summary>
    public static byte[] GradientChunk(Trainer trainer, int chunk, int chunks)
    {
        var all = trainer.Parameters.Gradients;
        var (start, length) = Replica.ChunkBounds(all.Length, chunk, chunks);
        return MemoryMarshal.AsBytes(all.Slice(start, length)).ToArray();
    }

    /// <summary>Stores one slice of the averaged gradient for the next step to apply (same threading as <see cref="GradientChunk"/>).</summary>
    public void PutAverageChunk(int count, int chunk, int chunks, byte[] values)
    {
        assembled ??= new float[count];
        var (start, length) = Replica.ChunkBounds(count, chunk, chunks);
        if (values.Length != length * sizeof(float))
            throw new ArgumentException($"chunk {chunk} of {chunks} has {values.Length} bytes, expected {length * sizeof(float)}");
        MemoryMarshal.Cast<byte, float>(values).CopyTo(assembled.AsSpan(start, length));
    }

    /// <summary>
    /// Takes the coordinator's gradient link, or the previous ring worker's, for the greeting's run; false when this
    /// replica is not in that run or the greeting does not prove the run's token.
    /// </summary>
    public bool Attach(Socket socket, GradientChannel.Greeting greeting)
    {
        lock (linkLock)
        {
            if (assignment is not { } work || work.RunId != greeting.RunId || work.LinkToken is not { } token || !greeting.Proves(token)) return false;
            var attached = new GradientLink(socket, token, greeting.Challenge, coordinator: false);
            if (GradientChannel.PartnerFrom(greeting.Key) is { } from)
            {
                // Any position of the run may greet (the token proves it is one): the place, which may not be here yet, says whom it waits for.
                if (from >= work.Spec.Parallel.Workers)
                {
                    attached.Dispose();
                    return false;
                }
                if (partners.Remove(from, out var old)) old.Dispose();
                partners[from] = attached;
                ring?.Dispose();
                ring = null;
                partnerArrived.Set();
            }
            else if (GradientChannel.IsRing(greeting.Key))
            {
                previous?.Dispose();
                previous = attached;
                ring?.Dispose();
                ring = null;
                previousReady.Set();
            }
            else
            {
                link?.Dispose();
                link = attached;
                linkReady.Set();
            }
            return true;
        }
    }

    /// <summary>
    /// Takes this worker's place in the run's ring: its silo's group (shared with the other workers there), and for
    /// the group's leader the link to the next leader, proving this run's token as a coordinator does.
    /// </summary>
    public async Task JoinRingAsync(RingPlace place, CancellationToken cancel)
    {
        WorkerAssignment work;
        lock (linkLock) work = assignment ?? throw new InvalidOperationException($"replica {key} holds no run to join a ring of");
        int workers = work.Spec.Parallel.Workers;
        if (place.Problem(work.Rank, workers) is { } problem) throw new ArgumentException($"replica {key}: a ring place needs {problem}");
        if (place.OverlapBackward && !GradientExchange.OverlapsBackward(work.Spec.Parallel.ClipScope, work.Spec.Training.Clip, place.Leaders, place.HalvingDoubling))
            throw new ArgumentException($"replica {key}: per-worker clipping by norm overlaps the backward pass only in a ring of two, not among {place.Leaders} leaders");
        var group = host.Group(work.TrialId, work.RunId, place.Group.Length);
        GradientLink? connected = null;
        var above = new Dictionary<int, GradientLink>();
        try
        {
            if (place.Group[0] == work.Rank && place.Leaders > 1 && !place.HalvingDoubling)
                connected = await GradientChannel.ConnectAsync(place.NextLink!, GradientChannel.RingKey(WorkerGrain.KeyOf(work.TrialId, place.NextRank)),
                    work.RunId, work.LinkToken!, cancel);
            if (place.Group[0] == work.Rank && place.HalvingDoubling)
                foreach (int partner in HalvingDoublingAllreduce.Partners(place.Position, place.Leaders).Where(p => p > place.Position))
                    above[partner] = await GradientChannel.ConnectAsync(place.LeaderLinks![partner]!,
                        GradientChannel.PartnerKey(WorkerGrain.KeyOf(work.TrialId, place.LeaderRanks![partner]), place.Position), work.RunId, work.LinkToken!, cancel);
        }
        catch
        {
            connected?.Dispose();
            foreach (var partner in above.Values) partner.Dispose();
            throw;
        }
        lock (linkLock)
        {
            // A new run loaded meanwhile: this place belongs to the old one.
            if (!ReferenceEquals(assignment, work))
            {
                connected?.Dispose();
                foreach (var partner in above.Values) partner.Dispose();
                throw new InvalidOperationException($"replica {key}: run {work.RunId} ended while joining its ring");
            }
            next?.Dispose();
            next = connected;
            foreach (var (position, partner) in above)
            {
                if (partners.Remove(position, out var old)) old.Dispose();
                partners[position] = partner;
            }
            ring?.Dispose();
            ring = null;
            (this.place, this.group) = (place, group);
        }
    }

    /// <summary>
    /// Turns the gradient into the mean of every worker's: a member lends it to its silo's leader; the leader gathers
    /// the silo's, rings with the other leaders and hands the mean back. Returns the mean's sum of squares.
    /// </summary>
    double Reduce(Span<float> gradient, long step)
    {
        var (spec, rank) = (assignment!.Spec, assignment.Rank);
        var timeout = spec.Parallel.ExchangeTimeout;
        var (at, silo) = (place ?? throw new InvalidOperationException($"replica {key} has not joined a ring"), group!);
        if (at.Group[0] != rank) return silo.Lend(Array.IndexOf(at.Group, rank), gradient, step, timeout);
        try
        {
            if (silo.Size > 1) silo.Gather(gradient, step, timeout);
            double squares = Ring(at).Reduce(gradient, step, spec.Parallel.ClipScope, spec.Training.Clip, spec.Training.ClipThreshold);
            if (silo.Size > 1) silo.Hand(gradient, step, squares);
            return squares;
        }
        catch (Exception e)
        {
            silo.Break(e);
            throw;
        }
    }

    IGradientAllreduce Ring(RingPlace at)
    {
        var timeout = assignment!.Spec.Parallel.ExchangeTimeout;
        if (at.HalvingDoubling) return HalvingDoubling(at, timeout);
        if (at.Leaders > 1) Arrived(previousReady, timeout, "the previous ring worker's");
        lock (linkLock)
        {
            if (ring is not null) return ring;
            next?.TimeOutAfter(timeout);
            previous?.TimeOutAfter(timeout);
            return ring = new RingAllreduce(at.Position, at.Leaders, assignment.Spec.Parallel.Workers, next, previous);
        }
    }

    /// <summary>Waits until every partner below this leader has connected, then builds its halving-doubling allreduce.</summary>
    IGradientAllreduce HalvingDoubling(RingPlace at, TimeSpan timeout)
    {
        var needed = HalvingDoublingAllreduce.Partners(at.Position, at.Leaders).ToArray();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            lock (linkLock)
            {
                if (ring is not null) return ring;
                if (needed.All(partners.ContainsKey))
                {
                    var links = needed.ToDictionary(p => p, p => partners[p]);
                    foreach (var partner in links.Values) partner.TimeOutAfter(timeout);
                    return ring = new HalvingDoublingAllreduce(at.Position, at.Leaders, assignment!.Spec.Parallel.Workers, links);
                }
                partnerArrived.Reset();
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !partnerArrived.Wait(left))
                throw new TimeoutException($"replica {key}: its halving-doubling partners' gradient links did not all arrive within {timeout.TotalSeconds:0.###} s");
        }
    }

    /// <summary>Waits until a link that connects to this replica (the coordinator's, or the previous ring worker's) has attached.</summary>
    void Arrived(ManualResetEventSlim ready, TimeSpan timeout, string whose)
    {
        if (!ready.Wait(timeout)) throw new TimeoutException($"replica {key}: {whose} gradient link did not arrive within {timeout.TotalSeconds:0.###} s");
    }

    /// <summary>Closes the links' sockets at once, from any thread: a replica thread waiting on a broken ring is freed for the next run.</summary>
    public void Abort()
    {
        lock (linkLock)
        {
            link?.Abort();
            next?.Abort();
            previous?.Abort();
            foreach (var partner in partners.Values) partner.Abort();
            group?.Break(new OperationCanceledException($"replica {key} is loading another run"));
        }
    }

    GradientLink Link()
    {
        var timeout = assignment!.Spec.Parallel.ExchangeTimeout;
        Arrived(linkReady, timeout, "the coordinator's");
        lock (linkLock)
        {
            var attached = link!;
            attached.TimeOutAfter(timeout);
            return attached;
        }
    }

    public void Dispose()
    {
        Reset(null);
        bucket?.Dispose();
    }
}
