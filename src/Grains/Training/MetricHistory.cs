using System.Text.Json;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;

namespace Distributed.Grains.Training;

/// <summary>Steps <see cref="FirstStep"/>..<see cref="LastStep"/> of a trial's metrics, sealed in one artifact.</summary>
[GenerateSerializer, Immutable, Alias("MetricSegment")]
public sealed record MetricSegment(
    [property: Id(0)] long FirstStep,
    [property: Id(1)] long LastStep,
    [property: Id(2)] string Path,
    [property: Id(3)] StepMetrics Last);

/// <summary>
/// A trial's per-step metrics: the recent ones in its record, the older ones sealed in segments of the artifact
/// store. Without this the record grew by every step and was written whole at every checkpoint: at 10^5 steps,
/// megabytes per write and gigabytes per trial. Only steps up to the last checkpoint are sealed, because a
/// resumed run starts there and computes the later ones again.
/// </summary>
public static class MetricHistory
{
    // The result documents' JSON, unindented: a segment is read by the cluster more often than by people.
    static readonly JsonSerializerOptions Json = new(SweepReport.Json) { WriteIndented = false };

    public static string SegmentPath(string trialId, long firstStep) => $"trials/{trialId}/metrics/steps-{firstStep:D10}.json";

    /// <summary>The last step recorded, sealed or not.</summary>
    public static StepMetrics? Last(TrialRecord record) => record.Steps.Count > 0 ? record.Steps[^1] : record.Segments.LastOrDefault()?.Last;

    /// <summary>
    /// When at least <paramref name="segmentSteps"/> steps up to the checkpoint are in the record, writes them as one
    /// segment and keeps only its entry; the caller writes the record after, so a crash between leaves the steps
    /// where they were (the segment is rewritten under the same name next time).
    /// </summary>
    public static async Task SealAsync(IArtifactStore store, string trialId, TrialRecord record, int segmentSteps, CancellationToken cancellation = default)
    {
        long upTo = record.CheckpointStep ?? 0;
        int count = record.Steps.FindIndex(s => s.Step > upTo) is var i && i >= 0 ? i : record.Steps.Count;
        if (count < segmentSteps) return;
        var steps = record.Steps.GetRange(0, count);
        string path = SegmentPath(trialId, steps[0].Step);
        await store.WriteAsync(path, JsonSerializer.SerializeToUtf8Bytes(steps, Json), cancellation);
        record.Segments.Add(new MetricSegment(steps[0].Step, steps[^1].Step, path, steps[^1]));
        record.Steps.RemoveRange(0, count);
    }

    /// <summary>Every step after <paramref name="afterStep"/>: the segments that hold any, then the record's own.</summary>
    public static async Task<List<StepMetrics>> ReadAsync(IArtifactStore store, TrialRecord record, long afterStep, CancellationToken cancellation = default)
    {
        var steps = new List<StepMetrics>();
        foreach (var segment in record.Segments.Where(s => s.LastStep > afterStep))
        {
            var bytes = await store.ReadAsync(segment.Path, cancellation)
                ?? throw new InvalidOperationException($"metrics of steps {segment.FirstStep}..{segment.LastStep} are missing from the artifact store ({segment.Path})");
            steps.AddRange(JsonSerializer.Deserialize<List<StepMetrics>>(bytes, Json)!.Where(s => s.Step > afterStep));
        }
        steps.AddRange(record.Steps.Where(s => s.Step > afterStep));
        return steps;
    }

    /// <summary>A run resumes from <paramref name="from"/>: what the record holds after it is computed again.</summary>
    public static void ResumeFrom(TrialRecord record, long from)
    {
        record.Steps.RemoveAll(s => s.Step > from);
        record.Evaluations.RemoveAll(e => e.Step > from);
    }
}
