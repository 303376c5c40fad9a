using System.Diagnostics;
using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Storage;
using Distributed.Grains.Sweeps;
using Distributed.Grains.Training;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Distributed.Sweeps;

namespace Distributed.Benchmarks;

/// <summary>
/// What records cost to persist: a long trial's (its whole step history at every checkpoint, or sealed segments), and
/// a long sweep's (every evaluation of every trial written every second, or a summary per trial written on change).
/// </summary>
public static class RecordBenchmarks
{
    const int Steps = 100_000, CheckpointEvery = 100, SegmentSteps = 1000;

    public static string HundredThousandSteps()
    {
        using var services = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(TrialRecord).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer<TrialRecord>>();
        var directory = Path.Combine(Path.GetTempPath(), $"distributed-bench-record-{Guid.NewGuid():N}");
        var store = new LocalArtifactStore(directory);
        try
        {
            var whole = new TrialRecord();
            var sealedRecord = new TrialRecord();
            long wholeBytes = 0, sealedBytes = 0, lastWhole = 0, lastSealed = 0;
            var wholeTime = new Stopwatch();
            var sealedTime = new Stopwatch();
            var random = new Random(1);
            for (long step = 1; step <= Steps; step++)
            {
                // The same fields a real step reports, with values that do not compress to nothing.
                var metrics = new StepMetrics(step, random.NextDouble() * 3, random.NextDouble(), 1e-3, 2000 + random.NextDouble(), 1, 0.01 * random.NextDouble(), 0.009);
                whole.Steps.Add(metrics);
                sealedRecord.Steps.Add(metrics);
                if (step % CheckpointEvery != 0) continue;
                whole.CheckpointStep = sealedRecord.CheckpointStep = step;

                wholeTime.Start();
                lastWhole = serializer.SerializeToArray(whole).Length;
                wholeTime.Stop();
                wholeBytes += lastWhole;

                sealedTime.Start();
                MetricHistory.SealAsync(store, "bench", sealedRecord, SegmentSteps).GetAwaiter().GetResult();
                lastSealed = serializer.SerializeToArray(sealedRecord).Length;
                sealedTime.Stop();
                sealedBytes += lastSealed;
            }
            long segmentBytes = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            var readTime = Stopwatch.StartNew();
            int read = MetricHistory.ReadAsync(store, sealedRecord, -1).GetAwaiter().GetResult().Count;
            readTime.Stop();
            if (read != Steps) throw new InvalidOperationException($"read back {read} steps of {Steps}");
            return new JsonObject
            {
                ["case"] = "trial-record-100k-steps",
                ["steps"] = Steps,
                ["checkpoint_every"] = CheckpointEvery,
                ["segment_steps"] = SegmentSteps,
                ["whole_last_record_bytes"] = lastWhole,
                ["whole_total_bytes"] = wholeBytes,
                ["whole_seconds"] = Math.Round(wholeTime.Elapsed.TotalSeconds, 3),
                ["sealed_last_record_bytes"] = lastSealed,
                ["sealed_total_bytes"] = sealedBytes + segmentBytes,
                ["sealed_seconds"] = Math.Round(sealedTime.Elapsed.TotalSeconds, 3),
                ["read_all_seconds"] = Math.Round(readTime.Elapsed.TotalSeconds, 3),
                ["ratio"] = Math.Round((double)(sealedBytes + segmentBytes) / wholeBytes, 4),
            }.ToJsonString();
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    const int SweepTrials = 100, TrialSteps = 2000, EvaluateEvery = 20, StepsPerSecond = 50, Concurrent = 2;

    /// <summary>
    /// A sweep of 100 trials × 100 evaluations (10,000), two trials at a time at 50 steps/s, replayed second by second
    /// through the real SweepRecord and Orleans serializer. Before: every evaluation in History and the record written
    /// at every one-second poll (the trials' progress changed it each time). After: per trial only its last judged
    /// step, best and final, written when more than progress changed and at most every SweepGrain.WriteEvery.
    /// </summary>
    public static string TenThousandEvaluationSweep()
    {
        using var services = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(SweepRecord).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer<SweepRecord>>();
        var (spec, errors) = SweepSpecReader.Read($$"""
            model: { embeddingSize: 32, hiddenSize: 64 }
            schedule: { steps: {{TrialSteps}}, evaluateEvery: {{EvaluateEvery}}, checkpointEvery: 200 }
            search: { method: random, samples: {{SweepTrials}}, space: { learningRate: { logUniform: [0.0001, 0.01] }, dropout: { uniform: [0.0, 0.5] } } }
            maxConcurrent: {{Concurrent}}
            earlyStopping: { rule: median, gracePeriod: 200, minTrials: 3 }
            """, "bench.yaml");
        if (spec is null) throw new InvalidOperationException(string.Join("; ", errors));
        var trials = SweepPlan.Expand(spec).Trials.Select(t => new SweepTrial
        {
            Number = t.Number, TrialId = $"bench/{t.Number}", Configuration = t.Configuration, Factors = t.Factors, Repeat = t.Repeat,
            Seed = t.Spec.Schedule.Seed, State = TrialState.Queued, Steps = t.Spec.Schedule.Steps,
        }).ToList();
        var before = new SweepRecord { Spec = spec, State = SweepState.Running, Trials = trials.ToList(), CreatedAt = DateTimeOffset.UtcNow };
        var after = new SweepRecord { Spec = spec, State = SweepState.Running, Trials = trials.ToList(), CreatedAt = before.CreatedAt };
        var random = new Random(1);
        long beforeBytes = 0, afterBytes = 0, beforeLastMinute = 0, afterLastMinute = 0;
        int beforeWrites = 0, afterWrites = 0, evaluations = 0, next = 0, seconds = 0;
        double lastAfterWrite = double.NegativeInfinity;
        var running = new List<int>();
        var lastMinuteBefore = new Queue<long>();
        var lastMinuteAfter = new Queue<long>();
        while (next < trials.Count || running.Count > 0)
        {
            seconds++;
            bool changed = false;
            while (running.Count < Concurrent && next < trials.Count)
            {
                running.Add(next);
                Update(next, t => t with { State = TrialState.Running, StartedAt = DateTimeOffset.UtcNow });
                next++;
                changed = true;
            }
            foreach (int i in running.ToList())
            {
                long from = before.Trials[i].Step, to = Math.Min(TrialSteps, from + StepsPerSecond);
                for (long step = (from / EvaluateEvery + 1) * EvaluateEvery; step <= to; step += EvaluateEvery)
                {
                    double value = 3 * Math.Exp(-step / 700.0) + 0.1 * random.NextDouble();
                    before.History.Add(new TrialPoint(before.Trials[i].Number, step, value));
                    after.Judged[after.Trials[i].Number] = step;
                    Update(i, t => t with { Best = Math.Min(t.Best ?? double.MaxValue, value), Final = value });
                    evaluations++;
                    changed = true;
                }
                double loss = random.NextDouble();
                Update(i, t => t with { Step = to, Loss = loss, SamplesPerSecond = 3000 + random.NextDouble() });
                if (to == TrialSteps)
                {
                    Update(i, t => t with { State = TrialState.Completed, EndedAt = DateTimeOffset.UtcNow });
                    running.Remove(i);
                    changed = true;
                }
            }
            bool finished = running.Count == 0 && next == trials.Count;
            // Before: every poll that saw progress wrote the whole record.
            long beforeNow = serializer.SerializeToArray(before).Length;
            beforeBytes += beforeNow;
            beforeWrites++;
            long afterNow = 0;
            if (finished || (changed && seconds - lastAfterWrite >= SweepGrain.WriteEvery.TotalSeconds))
            {
                afterNow = serializer.SerializeToArray(after).Length;
                afterBytes += afterNow;
                afterWrites++;
                lastAfterWrite = seconds;
            }
            Window(lastMinuteBefore, beforeNow, ref beforeLastMinute);
            Window(lastMinuteAfter, afterNow, ref afterLastMinute);
        }
        if (evaluations != SweepTrials * TrialSteps / EvaluateEvery) throw new InvalidOperationException($"{evaluations} evaluations replayed");
        double minutes = seconds / 60.0;
        return new JsonObject
        {
            ["case"] = "sweep-record-10k-evaluations",
            ["trials"] = SweepTrials,
            ["evaluations"] = evaluations,
            ["sweep_minutes"] = Math.Round(minutes, 1),
            ["before_record_bytes"] = serializer.SerializeToArray(before).Length,
            ["after_record_bytes"] = serializer.SerializeToArray(after).Length,
            ["before_writes"] = beforeWrites,
            ["after_writes"] = afterWrites,
            ["before_bytes_per_minute"] = Math.Round(beforeBytes / minutes),
            ["after_bytes_per_minute"] = Math.Round(afterBytes / minutes),
            ["before_bytes_last_minute"] = beforeLastMinute,
            ["after_bytes_last_minute"] = afterLastMinute,
            ["ratio"] = Math.Round((double)afterBytes / beforeBytes, 5),
        }.ToJsonString();

        void Update(int i, Func<SweepTrial, SweepTrial> change)
        {
            before.Trials[i] = change(before.Trials[i]);
            after.Trials[i] = change(after.Trials[i]);
        }
    }

    /// <summary>Bytes written in the last 60 one-second ticks.</summary>
    static void Window(Queue<long> window, long bytes, ref long sum)
    {
        window.Enqueue(bytes);
        sum += bytes;
        if (window.Count > 60) sum -= window.Dequeue();
    }
}
