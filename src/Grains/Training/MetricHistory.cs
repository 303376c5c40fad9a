using System.Text.Json;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Training;

/// <summary>
/// Steps <see cref="FirstStep"/>..<see cref="LastStep"/> of a trial's metrics, sealed in one artifact, and the
/// evaluations up to <see cref="LastStep"/> not sealed before, in a second one (none in segments older than that).
/// </summary>
[GenerateSerializer, Immutable, Alias("MetricSegment")]
public sealed record MetricSegment(
    [property: Id(0)] long FirstStep,
    [property: Id(1)] long LastStep,
    [property: Id(2)] string Path,
    [property: Id(3)] StepMetrics Last)
{
    /// <summary>Where this segment's evaluations are; null when it sealed none.</summary>
    [Id(4)] public string? EvaluationsPath { get; init; }
    [Id(5)] public EvaluationMetrics? LastEvaluation { get; init; }
}

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

    public static string EvaluationsPath(string trialId, long firstStep) => $"{ArtifactPaths.Metrics(trialId)}evaluations-{firstStep:D10}.json";
    /// <summary>Every sealed segment of a trial is under this folder, and nothing else is.</summary>

    /// <summary>The last step recorded, sealed or not.</summary>
    public static StepMetrics? Last(TrialRecord record) => record.Steps.Count > 0 ? record.Steps[^1] : record.Segments.LastOrDefault()?.Last;

    /// <summary>The last evaluation recorded, sealed or not.</summary>
    public static EvaluationMetrics? LastEvaluation(TrialRecord record) =>
        record.Evaluations.Count > 0 ? record.Evaluations[^1] : record.Segments.LastOrDefault(s => s.LastEvaluation is not null)?.LastEvaluation;

    /// <summary>
    /// When at least <paramref name="segmentSteps"/> steps up to the checkpoint are in the record, writes them as one
    /// segment, with the evaluations up to its last step beside it, and keeps only its entry; the caller writes the
    /// record after, so a crash between leaves the metrics where they were (rewritten under the same names next time).
    /// </summary>
    public static async Task SealAsync(IArtifactStore store, string trialId, TrialRecord record, int segmentSteps, CancellationToken cancellation = default)
    {
        long upTo = record.CheckpointStep ?? 0;
        int count = record.Steps.FindIndex(s => s.Step > upTo) is var i && i >= 0 ? i : record.Steps.Count;
        if (count < segmentSteps) return;
        var steps = record.Steps.GetRange(0, count);
        var evaluations = record.Evaluations.Where(e => e.Step <= steps[^1].Step).ToList();
        string? evaluationsPath = evaluations.Count > 0 ? EvaluationsPath(trialId, steps[0].Step) : null;
        if (evaluationsPath is not null) await store.WriteAsync(evaluationsPath, JsonSerializer.SerializeToUtf8Bytes(evaluations, Json), cancellation);
        string path = ArtifactPaths.MetricSegment(trialId, steps[0].Step);
        await store.WriteAsync(path, JsonSerializer.SerializeToUtf8Bytes(steps, Json), cancellation);
        record.Segments.Add(new MetricSegment(steps[0].Step, steps[^1].Step, path, steps[^1])
        {
            EvaluationsPath = evaluationsPath,
            LastEvaluation = evaluations.LastOrDefault(),
        });
        record.Steps.RemoveRange(0, count);
        record.Evaluations.RemoveAll(e => e.Step <= steps[^1].Step);
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

    /// <summary>Every evaluation after <paramref name="afterStep"/>: the sealed ones, then the record's own.</summary>
    public static async Task<List<EvaluationMetrics>> ReadEvaluationsAsync(IArtifactStore store, TrialRecord record, long afterStep, CancellationToken cancellation = default)
    {
        var evaluations = new List<EvaluationMetrics>();
        foreach (var segment in record.Segments.Where(s => s.EvaluationsPath is not null && s.LastEvaluation!.Step > afterStep))
        {
            var bytes = await store.ReadAsync(segment.EvaluationsPath!, cancellation)
                ?? throw new InvalidOperationException($"evaluations up to step {segment.LastStep} are missing from the artifact store ({segment.EvaluationsPath})");
            evaluations.AddRange(JsonSerializer.Deserialize<List<EvaluationMetrics>>(bytes, Json)!.Where(e => e.Step > afterStep));
        }
        evaluations.AddRange(record.Evaluations.Where(e => e.Step > afterStep));
        return evaluations;
    }

    /// <summary>The artifacts the record's segments name: anything else in the trial's metrics folder is an orphan.</summary>
    public static IEnumerable<string> PathsOf(TrialRecord record) =>
        record.Segments.SelectMany(s => s.EvaluationsPath is null ? [s.Path] : new[] { s.Path, s.EvaluationsPath });

    /// <summary>
    /// A run resumes from <paramref name="from"/>: what the record holds after it is computed again. A run that fell
    /// back to a checkpoint older than sealed segments (the newer one was damaged) takes those segments back into the
    /// record first, keeping what came before <paramref name="from"/>, so every step is recorded once.
    /// </summary>
    public static async Task ResumeFromAsync(IArtifactStore store, TrialRecord record, long from, CancellationToken cancellation = default)
    {
        int firstAfter = record.Segments.FindIndex(s => s.LastStep > from);
        if (firstAfter >= 0)
        {
            var segments = record.Segments.GetRange(firstAfter, record.Segments.Count - firstAfter);
            var steps = new List<StepMetrics>();
            var evaluations = new List<EvaluationMetrics>();
            foreach (var segment in segments)
            {
                if (segment.FirstStep <= from && await store.ReadAsync(segment.Path, cancellation) is { } bytes)
                    steps.AddRange(JsonSerializer.Deserialize<List<StepMetrics>>(bytes, Json)!.Where(s => s.Step <= from));
                if (segment.EvaluationsPath is not null && await store.ReadAsync(segment.EvaluationsPath, cancellation) is { } sealedEvaluations)
                    evaluations.AddRange(JsonSerializer.Deserialize<List<EvaluationMetrics>>(sealedEvaluations, Json)!.Where(e => e.Step <= from));
            }
            record.Segments.RemoveRange(firstAfter, segments.Count);
            record.Steps.InsertRange(0, steps);
            record.Evaluations.InsertRange(0, evaluations);
        }
        record.Steps.RemoveAll(s => s.Step > from);
        record.Evaluations.RemoveAll(e => e.Step > from);
    }
}
