using System.Diagnostics;
using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Storage;
using Distributed.Grains.Training;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Distributed.Benchmarks;

/// <summary>What a long trial's record costs to persist: its whole step history at every checkpoint, or sealed segments.</summary>
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
}
