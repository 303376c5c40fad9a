using Distributed.Grains.Abstractions.Sweeps;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Distributed.Grains.Abstractions.Training;

namespace Distributed.Sweeps;

/// <summary>One value of a swept factor and what the objective did with it.</summary>
public sealed record FactorLevel(string Value, MeanInterval Objective, int Trials);

/// <summary>
/// What one factor did: its paired effects with their verdicts (the estimate to believe), and its marginal means
/// (over every trial with each value, so the other factors' effects are mixed in). With a second factor
/// (<c>--by a,b</c>), the paired effects of the first are given at each value of the second: their interaction.
/// </summary>
public sealed record FactorComparison(string Factor, string? Within, IReadOnlyList<PairedEffect> Paired, IReadOnlyList<string> Verdicts, IReadOnlyList<FactorLevel> Marginal);

/// <summary>
/// A sweep's comparison on one split: each factor's effects, and how much of the objective's variation each explains.
/// On validation every trial counts with its best objective; on test only completed trials count, with their best
/// checkpoint's test objective.
/// </summary>
public sealed record Comparison(string Metric, string Split, IReadOnlyList<FactorComparison> Factors, IReadOnlyList<Importance> Importance);

/// <summary>
/// What a sweep's results say: the leaderboard by the objective, the effect of each factor (mean and 95% interval of
/// the objective over every trial and seed that had each value), and the CSV and JSON exports.
/// Trials count with the best objective they reached: completed ones and those stopped early (which had less time).
/// </summary>
public static class SweepReport
{
    static bool Counts(SweepTrial t) => t.Best is not null && t.State is TrialState.Completed or TrialState.StoppedEarly or TrialState.Running;

    public static IReadOnlyList<SweepTrial> Leaderboard(SweepStatus sweep, int top = int.MaxValue)
    {
        var objective = sweep.Spec.Objective;
        var counted = sweep.Trials.Where(Counts);
        var ranked = objective.Direction == ObjectiveMode.Max
            ? counted.OrderByDescending(t => t.Best).ThenByDescending(t => t.Step)
            : counted.OrderBy(t => t.Best).ThenByDescending(t => t.Step);
        return ranked.ThenBy(t => t.Number).Take(top).ToList();
    }

    /// <summary>Seconds until the sweep ends at the running trials' pace (stopping rules counted), or null before any trial has a pace.</summary>
    public static double? EtaSeconds(SweepStatus sweep)
    {
        if (sweep.IsFinished) return 0;
        var running = sweep.Trials.Where(t => t.State == TrialState.Running).ToList();
        double rate = running.Sum(t => t.WallTime is { TotalSeconds: > 0 } w ? t.Step / w.TotalSeconds : 0);
        long remaining = EarlyStoppingRules.RemainingSteps(sweep.Spec.EarlyStopping, sweep.Trials, sweep.Spec.Schedule.Steps);
        return rate > 0 ? remaining / rate / Math.Max(1, Math.Min(sweep.Spec.MaxConcurrent, running.Count)) * running.Count : null;
    }

    /// <summary>Seconds until a running trial reaches its last step at its pace so far; null when it does not run or has no pace yet.</summary>
    public static double? EtaSeconds(SweepTrial trial) =>
        trial.State == TrialState.Running && trial.WallTime is { } w && trial.Step > 0 ? (trial.Steps - trial.Step) * w.TotalSeconds / trial.Step : null;

    /// <summary>
    /// Paired effects, verdicts, marginal means and importance for <paramref name="by"/> (a factor, "a,b" for a's
    /// effect at each value of b, or every factor when null), on validation or (<paramref name="test"/>) the test
    /// split; null when a named factor is not swept.
    /// </summary>
    public static Comparison? Compare(SweepStatus sweep, string? by, bool test = false)
    {
        var factors = sweep.Spec.Search.Space.Select(d => d.Key).ToList();
        var named = by?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [];
        if (named.Length > 2 || named.Any(f => !factors.Contains(f))) return null;
        var observations = test
            ? sweep.Trials.Where(t => t.Test is not null && t.State == TrialState.Completed).Select(t => new Observation(t.Factors, t.Repeat, t.Test!.Value)).ToList()
            : sweep.Trials.Where(Counts).Select(t => new Observation(t.Factors, t.Repeat, t.Best!.Value)).ToList();
        var objective = sweep.Spec.Objective;
        var range = MetricRange.Of(objective.Metric);
        FactorComparison Of(string factor, string? within, string? value, IReadOnlyList<Observation> trials)
        {
            var paired = PairedEffects.Of(trials, factor, range);
            var marginal = trials.GroupBy(t => t.ValueOf(factor))
                .Select(g => new FactorLevel(g.Key, MeanInterval.Of(g.Select(t => t.Value).ToList()).Within(range.Min, range.Max), g.Count())).ToList();
            return new FactorComparison(factor, within is null ? null : $"{within}={value}", paired, paired.Select(p => p.Verdict(objective)).ToList(), marginal);
        }
        var compared = named.Length == 2
            ? observations.Select(o => o.ValueOf(named[1])).Distinct()
                .Select(v => Of(named[0], named[1], v, observations.Where(o => o.ValueOf(named[1]) == v).ToList())).ToList()
            : (named.Length == 1 ? named.ToList() : factors).Select(f => Of(f, null, null, observations)).ToList();
        return new Comparison(Name(objective.Metric), test ? "test" : "validation", compared, FactorImportance.Of(observations, factors));
    }

    public static string Csv(SweepStatus sweep)
    {
        var factors = sweep.Spec.Search.Space.Select(d => d.Key).ToList();
        bool pbt = sweep.Spec.Search.Method == SearchMethod.Pbt;
        var text = new StringBuilder();
        text.AppendLine(string.Join(",", new[] { "trial", "trial_id", "configuration", "repeat", "seed" }.Concat(factors)
            .Concat(["state", "step", "steps", $"best_{Name(sweep.Spec.Objective.Metric)}", $"final_{Name(sweep.Spec.Objective.Metric)}", $"test_{Name(sweep.Spec.Objective.Metric)}", "last_loss", "wall_seconds", "checkpoint", "reason"])
            .Concat(pbt ? ["schedule"] : [])
            .Select(Quote)));
        foreach (var t in sweep.Trials)
        {
            var cells = new List<string> { I(t.Number), t.TrialId, I(t.Configuration), I(t.Repeat), t.Seed.ToString(CultureInfo.InvariantCulture) };
            cells.AddRange(factors.Select(f => t.Factors.FirstOrDefault(v => v.Factor == f)?.Value ?? ""));
            cells.AddRange([Name(t.State), I(t.Step), I(t.Steps), D(t.Best), D(t.Final), D(t.Test), D(t.Loss), D(t.WallTime?.TotalSeconds), t.CheckpointPath ?? "", t.Reason ?? ""]);
            if (pbt) cells.Add(PopulationBasedTraining.Describe(PopulationBasedTraining.ScheduleOf(sweep, t.Number) ?? []));
            text.AppendLine(string.Join(",", cells.Select(Quote)));
        }
        return text.ToString();
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Every started trial's metric history, by trial number: what <see cref="ToJson"/> adds to each trial.</summary>
    public static async Task<IReadOnlyDictionary<int, TrialMetrics>> HistoriesAsync(SweepStatus sweep, IGrainFactory grains)
    {
        var histories = new Dictionary<int, TrialMetrics>();
        foreach (var t in sweep.Trials.Where(t => t.StartedAt is not null))
            histories[t.Number] = await grains.GetGrain<ITrialGrain>(t.TrialId).GetMetricsAsync(-1);
        return histories;
    }

    /// <summary>The sweep as JSON; with <paramref name="histories"/> (trial number to metrics) every trial carries its metric history.</summary>
    public static string ToJson(SweepStatus sweep, IReadOnlyDictionary<int, TrialMetrics>? histories = null) => JsonSerializer.Serialize(new
    {
        sweep.SweepId, sweep.Spec.Name, sweep.State, sweep.CreatedAt, sweep.EndedAt, sweep.StepsRun, sweep.StepsPlanned,
        Objective = new { sweep.Spec.Objective.Metric, Mode = sweep.Spec.Objective.Direction },
        Trials = sweep.Trials.Select(t => new { Trial = t, History = histories?.GetValueOrDefault(t.Number) }),
        Comparison = Compare(sweep, null),
        TestComparison = Compare(sweep, null, test: true),
        Confirmation = Confirmation.Of(sweep),
        Pbt = sweep.Spec.Search.Method != SearchMethod.Pbt ? null : new
        {
            Perturbations = sweep.Generation,
            sweep.Exploits,
            Schedules = sweep.Trials.ToDictionary(t => t.Number.ToString(CultureInfo.InvariantCulture), t => PopulationBasedTraining.ScheduleOf(sweep, t.Number)),
        },
    }, Json);

    /// <summary>An enum value as specs and exports spell it ("exactMatch", "stoppedEarly").</summary>
    public static string Name<T>(T value) where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());
    static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
    static string D(double? v) => v?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    static string Quote(string cell)
    {
        cell = Inert(cell);
        return cell.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? $"\"{cell.Replace("\"", "\"\"")}\"" : cell;
    }

    /// <summary>
    /// A string cell a spreadsheet would run as a formula (= + - @, or a leading tab or CR) gets a leading single quote,
    /// so a trial reason or swept value cannot run on the analyst's machine; numbers, negative ones too, stay as they are.
    /// </summary>
    public static string Inert(string cell) =>
        cell.Length > 0 && cell[0] is '=' or '+' or '-' or '@' or '\t' or '\r'
        && !double.TryParse(cell, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out _)
            ? "'" + cell
            : cell;
}
