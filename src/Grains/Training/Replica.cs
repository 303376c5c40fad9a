using System.Diagnostics;
using Distributed.Grains.Abstractions.Training;
using Distributed.Models.Data;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Grains.Training;

/// <summary>
/// The TorchSharp side of a worker: one <see cref="Trainer"/> on its own thread. Every method queues onto that
/// thread; the worker grain only awaits. How its gradients and averages travel is its <see cref="ReplicaExchange"/>.
/// </summary>
public sealed class Replica : IDisposable
{
    readonly ReplicaThread thread;
    readonly ReplicaHost host;
    Trainer? trainer;
    PreparedData? data;
    WorkerAssignment? assignment;
    readonly ReplicaExchange exchange;
    // Where the data stood before the last computed step whose update is not applied yet (null: none open).
    (int Epoch, int Position)? openStep;

    internal Replica(string key, ReplicaHost host, int torchThreads)
    {
        Key = key;
        this.host = host;
        thread = new ReplicaThread($"replica {key}", torchThreads);
        exchange = new ReplicaExchange(key, host);
    }

    public string Key { get; }

    /// <param name="data">The spec's data options with any dataset reference replaced by this silo's copy of the file.</param>
    public Task<ReplicaReady> LoadAsync(WorkerAssignment work, DataOptions data, byte[]? checkpoint, string silo, string? linkEndpoint)
    {
        // A thread still waiting on the last run's broken ring is freed at once rather than at its timeout.
        exchange.Abort();
        return thread.Run(() => Load(work, data, checkpoint, silo, linkEndpoint));
    }

    ReplicaReady Load(WorkerAssignment work, DataOptions data, byte[]? checkpoint, string silo, string? linkEndpoint)
    {
        exchange.Reset(null);
        trainer?.Dispose();
        trainer = null;
        openStep = null;
        var spec = work.Spec;
        this.data = host.Data(data);
        int world = spec.Parallel.Workers;
        trainer = checkpoint is null
            ? new Trainer(spec.Model, spec.Training, this.data.Vocabularies, spec.Schedule.Seed, this.data.Train, work.Rank, world)
            // The spec's options, not the stored ones: they are the same unless a PBT member explored new values.
            : Trainer.Load(new MemoryStream(checkpoint), this.data.Train, work.Rank, world, (spec.Model, spec.Training));
        assignment = work;
        exchange.Reset(work);
        return new ReplicaReady(trainer.Parameters.Count, trainer.Step, GradientAverager.Checksum(trainer.Parameters.Values), silo, linkEndpoint);
    }

    /// <summary>Takes the replica's place in the run's ring; not on the replica thread, which may be busy with a step.</summary>
    public Task JoinRingAsync(RingPlace place, CancellationToken cancel) => exchange.JoinRingAsync(place, cancel);

    public Task<WorkerGradient> StepAsync(WorkerStep step) => thread.Run(() => Step(step));

    /// <summary>
    /// Steps one after another on the replica thread, each applying the gradient of the one before: a lone worker's
    /// own, or the mean its ring left, scaled by global norm clipping's factor, which every worker of the ring
    /// computes alike from the mean's norm.
    /// </summary>
    public Task<WorkerGradient[]> StretchAsync(WorkerStep first, int steps)
    {
        if (first.Route is not (GradientRoute.Keep or GradientRoute.Ring) || !first.Compute || steps < 1)
            throw new ArgumentException($"replica {Key}: a stretch computes 1 or more steps of a lone worker or a ring; asked for {steps} with route {first.Route}");
        return thread.Run(() =>
        {
            var done = new List<WorkerGradient>(steps);
            bool ring = first.Route == GradientRoute.Ring;
            var training = assignment!.Spec.Training;
            for (var next = first; done.Count < steps;)
            {
                var gradient = Step(next);
                done.Add(gradient);
                // The coordinator ends the trial diverged at this step; stepping on would only spread the NaNs. A ring
                // stops on what all its workers see alike, the mean, or one would wait for the others until its timeout.
                if (ring ? !double.IsFinite(gradient.MeanSquares) : !gradient.IsFinite) break;
                float scale = ring && assignment.Spec.Parallel.ClipScope == ClipScope.Global
                    ? GradientAverager.GlobalClip([gradient.MeanSquares], training.Clip, training.ClipThreshold).Factor : 1f;
                next = first with { Step = next.Step + 1, Apply = ring ? AverageSource.Ring : AverageSource.Own, Scale = scale, Checksum = false };
            }
            return done.ToArray();
        });
    }

    WorkerGradient Step(WorkerStep step)
    {
        var t = Loaded();
        var clock = Stopwatch.StartNew();
        // Waiting for the average (a link read) is exchange, not compute: the step's metrics keep the two apart.
        var waited = TimeSpan.Zero;
        if (step.Apply != AverageSource.None)
        {
            exchange.Apply(step, t);
            waited = clock.Elapsed;
            t.OptimizerStep();
            openStep = null;
        }
        if (t.Step != step.Step) throw new InvalidOperationException($"replica {Key} is at step {t.Step}, asked for step {step.Step}");
        ulong? checksum = step.Checksum ? GradientAverager.Checksum(t.Parameters.Values) : null;
        if (!step.Compute) return new WorkerGradient(step.Step, 0, 0, 0, 0, null, checksum, clock.Elapsed.TotalSeconds);

        // Dropout masks differ per worker and per step, yet are a pure function of both, so a resumed run draws the same ones.
        t.Model.Generator.manual_seed((long)SeededRandom.Mix(SeededRandom.Mix(t.Seed, (ulong)assignment!.Rank), (ulong)step.Step));
        openStep = (t.Batches!.Epoch, t.Batches.Position);
        var examples = t.Batches.Next();
        GradientReport report;
        try
        {
            using var batch = TrainingBatch.From(examples);
            report = t.ComputeGradient(batch, exchange.Overlaps(step) ? () => exchange.StartDecoderBucket(step, t) : null);
        }
        catch
        {
            exchange.AbandonBucket();
            throw;
        }
        // A lone worker's clipped gradient is the average, whatever the scope.
        double norm = step.Route == GradientRoute.Keep ? t.ClipGradient()
            : assignment.Spec.Parallel.ClipScope == ClipScope.PerWorker ? exchange.ClipOwn(t)
            : exchange.LocalNorm(t);
        // The copy out is part of the exchange, not of the compute this reports.
        double computeSeconds = (clock.Elapsed - waited).TotalSeconds;
        var inline = exchange.Deliver(step, t, out double meanSquares);
        return new WorkerGradient(step.Step, report.Loss, norm, report.TeacherProbability, examples.Count, inline, checksum, computeSeconds)
        {
            MeanSquares = meanSquares,
        };
    }

    /// <summary>
    /// A copy of one slice of the gradient just computed. It runs on the grain, not the replica thread: between a
    /// step's reply and the next step's request nothing writes the gradient.
    /// </summary>
    public byte[] GradientChunk(int chunk, int chunks) => ReplicaExchange.GradientChunk(Loaded(), chunk, chunks);

    /// <summary>Stores one slice of the averaged gradient for the next step to apply (same threading as <see cref="GradientChunk"/>).</summary>
    public void PutAverageChunk(int chunk, int chunks, byte[] values) => exchange.PutAverageChunk(Loaded().Parameters.Count, chunk, chunks, values);

    /// <summary>Where chunk <paramref name="chunk"/> of <paramref name="chunks"/> lies in a flat buffer of <paramref name="count"/> floats.</summary>
    public static (int Start, int Length) ChunkBounds(int count, int chunk, int chunks)
    {
        if (chunks < 1 || chunk < 0 || chunk >= chunks) throw new ArgumentOutOfRangeException(nameof(chunk), $"chunk {chunk} of {chunks}");
        int start = (int)((long)count * chunk / chunks), end = (int)((long)count * (chunk + 1) / chunks);
        return (start, end - start);
    }

    public Task<EvaluationMetrics?> EvaluateAsync(long step) => thread.Run(() =>
    {
        var t = Loaded();
        var schedule = assignment!.Spec.Schedule;
        var valid = data!.Valid;
        if (valid.Count == 0) return null;
        return Metrics(step, t.Evaluate(schedule.EvaluatedOf(valid), schedule.BeamWidth));
    });

    static EvaluationMetrics Metrics(long step, EvaluationReport r) => new(step, r.Loss, r.Perplexity, r.TokenAccuracy, r.ExactMatch, r.Bleu, r.Examples);

    /// <summary>A checkpoint (the trial's best) on the test split, in a model of its own: the replica stays as it is.</summary>
    public Task<TestResult?> TestAsync(byte[] checkpoint, long step) => thread.Run(() =>
    {
        var work = assignment ?? throw new InvalidOperationException($"replica {Key} holds no model");
        var test = data!.Test;
        if (test.Count == 0) return null;
        int beam = work.Spec.Schedule.BeamWidth;
        using var best = Trainer.Load(new MemoryStream(checkpoint));
        return new TestResult(step, Metrics(step, best.Evaluate(test, 1)), beam > 1 ? Metrics(step, best.Evaluate(test, beam)) : null, beam);
    });

    /// <summary>
    /// The replica as a checkpoint at its last completed update, even between a step's gradient and its update
    /// (a silo draining): the data position goes back to before that step's batch for the save, so a resumed run
    /// draws that batch again.
    /// </summary>
    public Task<(long Step, byte[] Bytes)> DrainCheckpointAsync() => thread.Run(() =>
    {
        var t = Loaded();
        var batches = t.Batches!;
        var current = (batches.Epoch, batches.Position);
        if (openStep is { } open) batches.MoveTo(open.Epoch, open.Position);
        try
        {
            var stream = new MemoryStream();
            t.Save(stream);
            return (t.Step, stream.ToArray());
        }
        finally
        {
            batches.MoveTo(current.Epoch, current.Position);
        }
    });

    public Task<(long Step, byte[] Bytes)> CheckpointAsync() => thread.Run(() =>
    {
        var stream = new MemoryStream();
        Loaded().Save(stream);
        return (Loaded().Step, stream.ToArray());
    });

    public Task<float[]> ParametersAsync() => thread.Run(() => Loaded().Parameters.Values.ToArray());

    /// <summary>Takes the coordinator's gradient link when the greeting proves this replica's run (see <see cref="ReplicaExchange.Attach"/>).</summary>
    internal bool Attach(System.Net.Sockets.Socket socket, GradientChannel.Greeting greeting) => exchange.Attach(socket, greeting);

    /// <summary>Runs code against the trainer on its thread: how tests play a faulty replica.</summary>
    internal Task WithTrainerAsync(Action<Trainer> action) => thread.Run(() => action(Loaded()));

    Trainer Loaded() => trainer ?? throw new InvalidOperationException($"replica {Key} holds no model");

    public void Dispose()
    {
        exchange.Abort();
        thread.Run(() =>
        {
            exchange.Dispose();
            trainer?.Dispose();
            trainer = null;
        });
        thread.Dispose();
    }
}
