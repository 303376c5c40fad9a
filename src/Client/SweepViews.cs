using System.Globalization;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Client;

/// <summary>What the sweep verbs print: progress, the status and leaderboard tables, comparisons, and the watch loop.</summary>
public static class SweepViews
{
    /// <summary>0 when the sweep completed with at least one trial that has an objective; 1 otherwise.</summary>
    internal static int Outcome(SweepStatus status) =>
        status.State == SweepState.Completed && status.Trials.Any(t => t.Best is not null) ? 0 : 1;

    /// <summary>Redraws a bar per running trial and the sweep's progress until it ends.</summary>
    internal static async Task<SweepStatus> WatchAsync(ISweepGrain sweep, TextWriter output, bool quiet)
    {
        bool live = !Console.IsOutputRedirected && !quiet;
        var screen = TerminalText.Raw(output);
        int drawn = 0;
        var lastLine = DateTime.MinValue;
        while (true)
        {
            var status = await StatusAsync(sweep, output, quiet);
            if (!quiet)
            {
                var lines = Progress(status);
                if (live)
                {
                    if (drawn > 0) screen.Write($"\u001b[{drawn}A");
                    foreach (var line in lines) screen.WriteLine(TerminalText.Clean(line) + "\u001b[K");
                    for (int i = lines.Count; i < drawn; i++) screen.WriteLine("\u001b[K");
                    drawn = Math.Max(drawn, lines.Count);
                }
                else if (DateTime.UtcNow - lastLine > TimeSpan.FromSeconds(5) || status.IsFinished)
                {
                    output.WriteLine(lines[0]);
                    lastLine = DateTime.UtcNow;
                }
            }
            if (status.IsFinished) return status;
            await Task.Delay(1000);
        }
    }

    /// <summary>
    /// The sweep's status, asked again while a silo that held it is being replaced (a call to a dead silo only
    /// times out); after about five minutes without an answer the cluster counts as lost (exit code 1).
    /// </summary>
    internal static async Task<SweepStatus> StatusAsync(ISweepGrain sweep, TextWriter output, bool quiet)
    {
        var started = DateTime.UtcNow;
        while (true)
        {
            try
            {
                return (await sweep.GetStatusAsync())!;
            }
            catch (Exception e) when (e is TimeoutException or OrleansException && DateTime.UtcNow - started < TimeSpan.FromMinutes(5))
            {
                if (!quiet) output.WriteLine($"waiting for the cluster: {e.GetBaseException().Message.Split('\n')[0]}");
                await Task.Delay(2000);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                throw new ConnectionException($"the cluster stopped answering: {e.GetBaseException().Message}");
            }
        }
    }

    internal static List<string> Progress(SweepStatus status)
    {
        var metric = Name(status.Spec.Objective.Metric);
        int finished = status.Trials.Count(t => t.IsFinished);
        var running = status.Trials.Where(t => t.State == TrialState.Running).ToList();
        var best = SweepReport.Leaderboard(status, 1).FirstOrDefault();
        string eta = SweepReport.EtaSeconds(status) is { } seconds ? Duration(seconds) : "?";
        var lines = new List<string>
        {
            $"sweep {status.SweepId} {Name(status.State)}: {Bar((double)finished / Math.Max(1, status.Trials.Count), 20)} {finished}/{status.Trials.Count} trials" +
            $" | best {metric} {F(best?.Best)}{(best is null ? "" : $" (trial {best.Number})")} | ETA {(status.IsFinished ? "0s" : eta)}",
        };
        foreach (var t in running)
        {
            double done = (double)t.Step / Math.Max(1, t.Steps);
            lines.Add($"  trial {t.Number,3} {Bar(done, 20)} {t.Step}/{t.Steps} {metric} {F(t.Final)} loss {F(t.Loss)} ETA {(SweepReport.EtaSeconds(t) is { } left ? Duration(left) : "?")}  {Factors(t)}");
        }
        return lines;
    }

    internal static void Status(SweepStatus status, TextWriter output)
    {
        output.WriteLine($"sweep {status.SweepId}{(status.Spec.Name is { } n && n != status.SweepId ? $" ({n})" : "")}: {Name(status.State)}, " +
                         $"{status.Trials.Count(t => t.IsFinished)}/{status.Trials.Count} trials finished, {status.StepsRun}/{status.StepsPlanned} steps, objective {Name(status.Spec.Objective.Metric)} ({Name(status.Spec.Objective.Direction)})" +
                         (status.Spec.Search.Method == SearchMethod.Tpe
                             ? $", TPE proposal {status.Trials.Where(t => t.Factors.Count > 0).Select(t => t.Configuration).Distinct().Count()} of {status.Spec.Search.Samples}"
                             : status.Spec.Search.Method == SearchMethod.Pbt
                                 ? $", PBT generation {status.Generation} of {PopulationBasedTraining.Boundaries(status.Spec).Count}, {status.Exploits.Count} exploits" : ""));
        if (status.SubmittedBy is { } by) output.WriteLine($"submitted by {by}");
        var factors = status.Spec.Search.Space.Select(d => d.Key).ToList();
        var table = new TextTable(["trial", .. factors, "seed", "state", "step", "best", "final", "test", "loss", "time", "note"]);
        foreach (var t in status.Trials)
            table.Add([I(t.Number), .. factors.Select(f => ValueOf(t, f)), t.Seed.ToString(CultureInfo.InvariantCulture) + (t.Confirmation ? " (confirm)" : ""),
                Name(t.State), $"{t.Step}/{t.Steps}", F(t.Best), F(t.Final), F(t.Test), F(t.Loss), t.WallTime is { } w ? Duration(w.TotalSeconds) : "", t.Reason ?? ""]);
        table.WriteTo(output);
    }

    internal static void Leaderboard(SweepStatus status, int top, TextWriter output)
    {
        var metric = Name(status.Spec.Objective.Metric);
        output.WriteLine($"leaderboard of {status.SweepId} by validation {metric} ({Name(status.Spec.Objective.Direction)}); test is the best checkpoint on the test split, never used to rank:");
        var factors = status.Spec.Search.Space.Select(d => d.Key).ToList();
        var table = new TextTable(["rank", "trial", .. factors, "seed", $"best {metric}", "final", $"test {metric}", "steps", "state"]);
        int rank = 0;
        foreach (var t in SweepReport.Leaderboard(status, top))
            table.Add([I(++rank), I(t.Number), .. factors.Select(f => ValueOf(t, f)), t.Seed.ToString(CultureInfo.InvariantCulture),
                F(t.Best), F(t.Final), F(t.Test), I(t.Step), Name(t.State)]);
        table.WriteTo(output);
        if (SweepReport.Leaderboard(status, 1).FirstOrDefault() is { } leader && PopulationBasedTraining.ScheduleOf(status, leader.Number) is { } schedule)
        {
            output.WriteLine();
            output.WriteLine($"schedule trial {leader.Number} followed (from step: values; `plot {status.SweepId} --schedule` draws it):");
            var stretches = new TextTable(["from step", .. factors]);
            foreach (var s in schedule) stretches.Add([I(s.From), .. s.Values.Select(v => v.Value)]);
            stretches.WriteTo(output);
            if (status.Exploits.Count > 0)
                output.WriteLine($"{status.Exploits.Count} exploits over {status.Generation} perturbations; `export --format json` lists them all");
        }
        if (Confirmation.Of(status) is not { } confirmation) return;
        output.WriteLine();
        output.WriteLine($"confirmation: the top configurations again with fresh seeds, ranked by mean validation {metric} (95% interval)");
        var confirmed = new TextTable("configuration", "search", "seeds done", $"validation {metric}", $"test {metric}");
        foreach (var c in confirmation.Ranked)
            confirmed.Add(c.Label, F(c.Search), $"{c.Completed}/{c.Seeds}", Interval(c.Validation), Interval(c.Test));
        confirmed.WriteTo(output);
        output.WriteLine(confirmation.Verdict);
    }

    internal static void Compare(Comparison comparison, bool importance, TextWriter output)
    {
        foreach (var factor in comparison.Factors)
        {
            var where = factor.Within is null ? "" : $" where {factor.Within}";
            output.WriteLine($"{factor.Factor}{where}: paired effects on {comparison.Split} {comparison.Metric} (trials differing only in {factor.Factor}, same seed; 95% interval)");
            if (factor.Verdicts.Count == 0) output.WriteLine("  no pairs: no two trials differ in this factor alone");
            foreach (var verdict in factor.Verdicts) output.WriteLine($"  {verdict}");
            output.WriteLine($"{factor.Factor}{where}: marginal mean {comparison.Split} {comparison.Metric} over every trial with each value (other factors mixed in)");
            var table = new TextTable("value", "trials", "mean", "95% CI");
            foreach (var level in factor.Marginal)
                table.Add(level.Value, I(level.Trials), F(level.Objective.Mean),
                    double.IsNaN(level.Objective.Low) ? "(one trial)" : $"[{F(level.Objective.Low)}, {F(level.Objective.High)}]");
            table.WriteTo(output);
            output.WriteLine();
        }
        if (!importance) return;
        output.WriteLine($"importance: each factor's share of the variation of {comparison.Split} {comparison.Metric} on its own (95% bootstrap interval)");
        var shares = new TextTable("factor", "share", "95% CI");
        string P(double share) => share.ToString("P0", CultureInfo.InvariantCulture);
        foreach (var i in comparison.Importance) shares.Add(i.Factor, P(i.Share), $"[{P(i.Low)}, {P(i.High)}]");
        shares.WriteTo(output);
    }

    internal static string Interval(MeanInterval? m) => m is null ? "-" : double.IsNaN(m.Low) ? $"{F(m.Mean)} (one seed)" : $"{F(m.Mean)} [{F(m.Low)}, {F(m.High)}]";

    /// <summary>Trial <paramref name="number"/>, or the best one by the objective.</summary>
    internal static SweepTrial ChooseTrial(SweepStatus status, int? number)
    {
        if (number is { } n)
            return status.Trials.FirstOrDefault(t => t.Number == n)
                ?? throw new UsageException($"--trial: sweep {status.SweepId} has trials 1..{status.Trials.Count}");
        return SweepReport.Leaderboard(status, 1).FirstOrDefault()
            ?? throw new UsageException($"sweep {status.SweepId} has no evaluated trial yet; say --trial N");
    }

    // A TPE trial shows no values until its configuration is proposed.
    internal static string ValueOf(SweepTrial t, string factor) => t.Factors.FirstOrDefault(v => v.Factor == factor)?.Value ?? "-";
    internal static string Factors(SweepTrial t) => string.Join(" ", t.Factors.Select(f => $"{f.Factor}={f.Value}"));
    internal static string Bar(double fraction, int width) => "[" + new string('#', (int)Math.Round(Math.Clamp(fraction, 0, 1) * width)).PadRight(width, '.') + "]";
    internal static string Duration(double seconds) => seconds < 90 ? $"{seconds:0}s" : seconds < 5400 ? $"{seconds / 60:0}m" : $"{seconds / 3600:0.0}h";
    internal static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
    internal static string F(double? v) => v is null || double.IsNaN(v.Value) ? "-" : v.Value.ToString("0.####", CultureInfo.InvariantCulture);
    internal static string Name<T>(T value) where T : struct, Enum => SweepReport.Name(value);
}
