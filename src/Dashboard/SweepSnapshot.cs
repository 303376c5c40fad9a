using System.Text.Json;
using System.Text.Json.Serialization;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Dashboard;

/// <summary>A trial's validation objective and training loss, as [step, value] pairs.</summary>
public sealed record TrialCurves(IReadOnlyList<double[]> Objective, IReadOnlyList<double[]> Loss);

/// <summary>One row of the trials table.</summary>
public sealed record TrialRow(int Number, string TrialId, IReadOnlyDictionary<string, string> Factors, ulong Seed, bool Confirmation,
    string State, long Step, long Steps, double? Best, double? Final, double? Test, double? Loss, double? SamplesPerSecond,
    double? EtaSeconds, double? Seconds, string? Reason, bool HasCheckpoint);

/// <summary>The objective's best value after each finished trial, in the order they ended.</summary>
public sealed record BestPoint(double Seconds, double Value, int Trial);

/// <summary>What the page draws for a sweep; sent whole at every change (server-sent events) and never edited by the page.</summary>
public sealed record SweepSnapshot(
    string SweepId, string? Name, string State, string Method, string? SubmittedBy,
    string Metric, string Direction, IReadOnlyList<string> Factors,
    DateTimeOffset CreatedAt, DateTimeOffset? EndedAt, long StepsRun, long StepsPlanned, double? EtaSeconds,
    IReadOnlyList<TrialRow> Trials, IReadOnlyDictionary<int, TrialCurves> Curves, IReadOnlyList<BestPoint> BestSoFar,
    Comparison? Comparison, IReadOnlyList<PbtExploit> Exploits)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        // NaN intervals (one trial) go out as null: JSON has no NaN.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    [JsonIgnore] public bool IsFinished => State != SweepReport.Name(SweepState.Running);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static SweepSnapshot Of(SweepStatus sweep, IReadOnlyDictionary<int, TrialCurves> curves)
    {
        var objective = sweep.Spec.Objective;
        var rows = sweep.Trials.Select(t => new TrialRow(t.Number, t.TrialId, t.Factors.ToDictionary(f => f.Factor, f => f.Value), t.Seed, t.Confirmation,
            SweepReport.Name(t.State), t.Step, t.Steps, Finite(t.Best), Finite(t.Final), Finite(t.Test), Finite(t.Loss), Finite(t.SamplesPerSecond),
            SweepReport.EtaSeconds(t), t.WallTime?.TotalSeconds, t.Reason, t.CheckpointPath is not null)).ToList();
        var best = new List<BestPoint>();
        foreach (var t in sweep.Trials.Where(t => t.EndedAt is not null && t.Best is { } b && double.IsFinite(b)).OrderBy(t => t.EndedAt))
            if (best.Count == 0 || objective.Better(t.Best!.Value, best[^1].Value))
                best.Add(new((t.EndedAt!.Value - sweep.CreatedAt).TotalSeconds, t.Best!.Value, t.Number));
            else best.Add(best[^1] with { Seconds = (t.EndedAt!.Value - sweep.CreatedAt).TotalSeconds });
        bool compared = sweep.Spec.Search.Space.Count > 0 && sweep.Trials.Count(t => t.Best is not null) >= 2;
        return new SweepSnapshot(sweep.SweepId, sweep.Spec.Name, SweepReport.Name(sweep.State), SweepReport.Name(sweep.Spec.Search.Method), sweep.SubmittedBy,
            SweepReport.Name(objective.Metric), SweepReport.Name(objective.Direction), sweep.Spec.Search.Space.Select(d => d.Key).ToList(),
            sweep.CreatedAt, sweep.EndedAt, sweep.StepsRun, sweep.StepsPlanned, SweepReport.EtaSeconds(sweep),
            rows, curves, best, compared ? SweepReport.Compare(sweep, null) : null, sweep.Exploits);
    }

    static double? Finite(double? v) => v is { } x && double.IsFinite(x) ? x : null;
}

/// <summary>A sweep in the list of sweeps.</summary>
public sealed record SweepSummary(string SweepId, string? Name, string State, string Method, int Trials, int Finished, string Metric, double? Best, DateTimeOffset CreatedAt)
{
    public static SweepSummary Of(SweepStatus s) => new(s.SweepId, s.Spec.Name, SweepReport.Name(s.State), SweepReport.Name(s.Spec.Search.Method),
        s.Trials.Count, s.Trials.Count(t => t.IsFinished), SweepReport.Name(s.Spec.Objective.Metric),
        SweepReport.Leaderboard(s, 1).FirstOrDefault()?.Best, s.CreatedAt);
}
