using System.Globalization;

namespace Distributed.Grains.Storage;

/// <summary>
/// Every path the artifact store holds, in one place: what a trial, a sweep and a dataset leave, and the one
/// inverses (a checkpoint's step from its name, a metric segment's trial from its path). Paths are relative and '/'-separated.
/// </summary>
public static class ArtifactPaths
{
    /// <summary>Everything a trial stored: checkpoints, its best checkpoint, metric segments, its result document.</summary>
    public static string Trial(string trialId) => $"{Trials}{trialId}/";
    public const string Trials = "trials/";

    public static string Checkpoints(string trialId) => $"{Trial(trialId)}checkpoints/";
    public static string Checkpoint(string trialId, long step) => $"{Checkpoints(trialId)}{step:D10}.ckpt";
    /// <summary>The step a checkpoint (periodic or best) was written at, read back from its name; 0 for none.</summary>
    public static long CheckpointStep(string? path) =>
        path is null ? 0 : long.Parse(Path.GetFileNameWithoutExtension(path), CultureInfo.InvariantCulture);

    /// <summary>The best checkpoint by schedule.selectBy, kept apart from the rotating ones.</summary>
    public static string Best(string trialId) => $"{Trial(trialId)}best/";
    public static string BestCheckpoint(string trialId, long step) => $"{Best(trialId)}{step:D10}.ckpt";

    public static string Metrics(string trialId) => $"{Trial(trialId)}metrics/";
    public static string MetricSegment(string trialId, long firstStep) => $"{Metrics(trialId)}steps-{firstStep:D10}.json";
    /// <summary>The trial a path under its metrics folder belongs to; null for any other path.</summary>
    public static string? TrialOfMetricSegment(string path) =>
        path.StartsWith(Trials, StringComparison.Ordinal) && path.IndexOf("/metrics/", StringComparison.Ordinal) is var at and > 0 && at > Trials.Length
            ? path[Trials.Length..at] : null;

    public static string TrialResult(string trialId) => $"{Trial(trialId)}result.json";

    /// <summary>Everything a sweep itself leaves (its trials' are under <see cref="Trial"/>).</summary>
    public static string Sweep(string sweepId) => $"sweeps/{sweepId}/";
    public static string SweepJson(string sweepId) => $"{Sweep(sweepId)}results.json";
    public static string SweepCsv(string sweepId) => $"{Sweep(sweepId)}results.csv";

    /// <summary>Datasets: one folder per SHA-256, its parts and, last, its manifest.</summary>
    public const string Datasets = "datasets/";
    public static string Dataset(string hash) => $"{Datasets}{hash}/";
    public static string DatasetManifest(string hash) => Dataset(hash) + "manifest.json";
    public static string DatasetPart(string hash, int part) => Dataset(hash) + $"part-{part:D5}";
}
