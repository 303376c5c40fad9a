using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Client;

/// <summary>The sweep commands: submit, list, status, watch, results, compare, export, cancel.</summary>
public static class SweepCommands
{
    public static readonly IReadOnlySet<string> Verbs = new HashSet<string> { "submit", "list", "status", "watch", "results", "compare", "export", "cancel", "plot", "predict" };
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "wait", "json", "importance" };

    public static async Task<int> RunAsync(string verb, CommandLine cli, TextWriter output)
    {
        // Everything the user typed is checked before a silo starts or a cluster is called.
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
        switch (verb)
        {
            case "submit":
            {
                var file = cli.Positional("spec file (YAML or JSON)");
                var id = cli.Text("id");
                bool wait = cli.Flag("wait");
                cli.RejectUnknown();
                var (spec, errors) = SweepSpecReader.ReadFile(file);
                if (spec is null) throw new SpecException(errors);
                id ??= spec.Name ?? Path.GetFileNameWithoutExtension(file);
                var datasets = SpecDatasets.Prepare(spec, Path.GetDirectoryName(Path.GetFullPath(file))!);
                spec = datasets.Spec;
                await using var connection = await Connection.OpenAsync(target);
                var sweep = connection.Grains.GetGrain<ISweepGrain>(id);
                SweepStatus status;
                try
                {
                    await datasets.UploadAsync(connection.Grains, json ? TextWriter.Null : output);
                    status = await sweep.SubmitAsync(spec);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    throw new UsageException(e.Message);
                }
                if (json && !wait) output.WriteLine(SweepReport.ToJson(status));
                else output.WriteLine($"sweep {id}: {status.Trials.Count} trials, at most {spec.MaxConcurrent} at once ({connection.Description})");
                if (!wait)
                {
                    if (connection.Embedded && !json)
                        output.WriteLine($"the embedded silo runs the sweep while a client command is running: `distributed watch {id}` carries it on");
                    return 0;
                }
                status = await WatchAsync(sweep, output, json);
                if (json) output.WriteLine(SweepReport.ToJson(status));
                else Leaderboard(status, 10, output);
                return Outcome(status);
            }
            case "list":
            {
                cli.RejectUnknown();
                await using var connection = await Connection.OpenAsync(target);
                var ids = await connection.Grains.GetGrain<ISweepIndexGrain>(0).ListAsync();
                var statuses = new List<SweepStatus>();
                foreach (var id in ids)
                    if (await connection.Grains.GetGrain<ISweepGrain>(id).GetStatusAsync() is { } s) statuses.Add(s);
                if (json)
                {
                    output.WriteLine(JsonSerializer.Serialize(statuses.Select(s => new
                    {
                        s.SweepId, s.Spec.Name, s.State, Trials = s.Trials.Count, Finished = s.Trials.Count(t => t.IsFinished),
                        Best = SweepReport.Leaderboard(s, 1).FirstOrDefault()?.Best, s.CreatedAt,
                    }), SweepReport.Json));
                    return 0;
                }
                var table = new TextTable("sweep", "state", "trials", "finished", "best", "objective", "created");
                foreach (var s in statuses)
                    table.Add(s.SweepId, Name(s.State), I(s.Trials.Count), I(s.Trials.Count(t => t.IsFinished)),
                        F(SweepReport.Leaderboard(s, 1).FirstOrDefault()?.Best), Name(s.Spec.Objective.Metric), s.CreatedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture));
                table.WriteTo(output);
                return 0;
            }
        }

        var sweepId = cli.Positional("sweep id");
        int top = cli.Int("top", verb == "plot" ? 5 : int.MaxValue);
        int? trialNumber = verb is "plot" or "predict" && cli.Text("trial") is not null ? cli.Int("trial", 0) : null;
        int beam = verb is "plot" or "predict" ? cli.Int("beam", 1) : 1;
        var input = verb == "predict" ? cli.Positional("input text to decode") : verb == "plot" ? cli.Text("attention") : null;
        var png = verb == "plot" ? cli.Text("out") ?? throw new UsageException("--out: say which PNG file to write") : null;
        var by = verb == "compare" ? cli.Text("by") : null;
        var split = verb == "compare" ? cli.Text("split") ?? "validation" : null;
        if (split is not null and not ("validation" or "test")) throw new UsageException($"--split: '{split}' must be validation or test");
        bool importance = verb == "compare" && cli.Flag("importance");
        var format = verb == "export" ? cli.Text("format") ?? throw new UsageException("--format: say csv or json") : null;
        var outFile = verb == "export" ? cli.Text("out") ?? throw new UsageException("--out: say which file to write") : null;
        if (beam is < 1 or > 64) throw new UsageException("--beam: must be 1..64");
        if (format is not null and not ("csv" or "json")) throw new UsageException($"--format: '{format}' must be csv or json");
        if (top < 1) throw new UsageException("--top: must be >= 1");
        cli.RejectUnknown();

        await using (var connection = await Connection.OpenAsync(target))
        {
            var grain = connection.Grains.GetGrain<ISweepGrain>(sweepId);
            var status = (verb == "cancel" ? await grain.CancelAsync() : await grain.GetStatusAsync())
                ?? throw new UsageException($"no sweep '{sweepId}' ({connection.Description}); `distributed list` shows them");
            switch (verb)
            {
                case "status" or "cancel":
                    if (json) output.WriteLine(SweepReport.ToJson(status));
                    else Status(status, output);
                    return 0;
                case "watch":
                    status = await WatchAsync(grain, output, json);
                    if (json) output.WriteLine(SweepReport.ToJson(status));
                    else Leaderboard(status, 10, output);
                    return Outcome(status);
                case "results":
                    if (json) output.WriteLine(JsonSerializer.Serialize(SweepReport.Leaderboard(status, top), SweepReport.Json));
                    else Leaderboard(status, top, output);
                    return 0;
                case "compare":
                    var comparison = SweepReport.Compare(status, by, split == "test")
                        ?? throw new UsageException($"--by: '{by}' must be one swept factor, or two as a,b; sweep {sweepId} sweeps: {string.Join(", ", status.Spec.Search.Space.Select(d => d.Key))}");
                    if (json) output.WriteLine(JsonSerializer.Serialize(comparison, SweepReport.Json));
                    else Compare(comparison, importance, output);
                    return 0;
                case "predict" or "plot" when input is not null:
                {
                    var trial = ChooseTrial(status, trialNumber);
                    TrialPrediction prediction;
                    try
                    {
                        prediction = await connection.Grains.GetGrain<ITrialGrain>(trial.TrialId).PredictAsync(input, beam);
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                    {
                        throw new UsageException(e.Message);
                    }
                    if (verb == "plot")
                    {
                        Plots.Attention(prediction, $"trial {trial.Number}, step {prediction.Step}: {input} -> {prediction.Output}", png!);
                        output.WriteLine($"wrote the attention of trial {trial.Number} on \"{input}\" to {png}");
                    }
                    else if (json) output.WriteLine(JsonSerializer.Serialize(new { trial = trial.Number, prediction.Output, prediction.SourceTokens, prediction.OutputTokens, prediction.Step }, SweepReport.Json));
                    else output.WriteLine(prediction.Output);
                    return 0;
                }
                case "plot":
                {
                    var chosen = trialNumber is { } n ? [ChooseTrial(status, n)] : SweepReport.Leaderboard(status, top);
                    if (chosen.Count == 0) throw new UsageException($"sweep {sweepId} has no evaluated trial to plot yet");
                    var curves = new List<(SweepTrial, TrialMetrics)>();
                    foreach (var t in chosen) curves.Add((t, await connection.Grains.GetGrain<ITrialGrain>(t.TrialId).GetMetricsAsync(-1)));
                    Plots.LearningCurves(status, curves, png!);
                    output.WriteLine($"wrote the learning curves of {curves.Count} trial{(curves.Count == 1 ? "" : "s")} to {png}");
                    return 0;
                }
                default:
                    var text = format == "csv" ? SweepReport.Csv(status) : SweepReport.ToJson(status, await SweepReport.HistoriesAsync(status, connection.Grains));
                    try
                    {
                        await File.WriteAllTextAsync(outFile!, text);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        throw new UsageException($"--out: cannot write {outFile}: {e.Message}");
                    }
                    output.WriteLine($"wrote {status.Trials.Count} trials to {outFile}");
                    return 0;
            }
        }
    }

    /// <summary>0 when the sweep completed with at least one trial that has an objective; 1 otherwise.</summary>
    static int Outcome(SweepStatus status) =>
        status.State == SweepState.Completed && status.Trials.Any(t => t.Best is not null) ? 0 : 1;

    /// <summary>Redraws a bar per running trial and the sweep's progress until it ends.</summary>
    static async Task<SweepStatus> WatchAsync(ISweepGrain sweep, TextWriter output, bool quiet)
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
    static async Task<SweepStatus> StatusAsync(ISweepGrain sweep, TextWriter output, bool quiet)
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

    static List<string> Progress(SweepStatus status)
    {
        var metric = Name(status.Spec.Objective.Metric);
        int finished = status.Trials.Count(t => t.IsFinished);
        var running = status.Trials.Where(t => t.State == TrialState.Running).ToList();
        var best = SweepReport.Leaderboard(status, 1).FirstOrDefault();
        double rate = running.Sum(t => t.WallTime is { TotalSeconds: > 0 } w ? t.Step / w.TotalSeconds : 0);
        long remaining = EarlyStoppingRules.RemainingSteps(status.Spec.EarlyStopping, status.Trials, status.Spec.Schedule.Steps);
        string eta = rate > 0 ? Duration(remaining / rate / Math.Max(1, Math.Min(status.Spec.MaxConcurrent, running.Count)) * running.Count) : "?";
        var lines = new List<string>
        {
            $"sweep {status.SweepId} {Name(status.State)}: {Bar((double)finished / Math.Max(1, status.Trials.Count), 20)} {finished}/{status.Trials.Count} trials" +
            $" | best {metric} {F(best?.Best)}{(best is null ? "" : $" (trial {best.Number})")} | ETA {(status.IsFinished ? "0s" : eta)}",
        };
        foreach (var t in running)
        {
            double done = (double)t.Step / Math.Max(1, t.Steps);
            double perStep = t.WallTime is { } w && t.Step > 0 ? w.TotalSeconds / t.Step : double.NaN;
            lines.Add($"  trial {t.Number,3} {Bar(done, 20)} {t.Step}/{t.Steps} {metric} {F(t.Final)} loss {F(t.Loss)} ETA {(double.IsNaN(perStep) ? "?" : Duration((t.Steps - t.Step) * perStep))}  {Factors(t)}");
        }
        return lines;
    }

    static void Status(SweepStatus status, TextWriter output)
    {
        output.WriteLine($"sweep {status.SweepId}{(status.Spec.Name is { } n && n != status.SweepId ? $" ({n})" : "")}: {Name(status.State)}, " +
                         $"{status.Trials.Count(t => t.IsFinished)}/{status.Trials.Count} trials finished, {status.StepsRun}/{status.StepsPlanned} steps, objective {Name(status.Spec.Objective.Metric)} ({Name(status.Spec.Objective.Direction)})" +
                         (status.Spec.Search.Method == SearchMethod.Tpe
                             ? $", TPE proposal {status.Trials.Where(t => t.Factors.Count > 0).Select(t => t.Configuration).Distinct().Count()} of {status.Spec.Search.Samples}" : ""));
        var factors = status.Spec.Search.Space.Select(d => d.Key).ToList();
        var table = new TextTable(["trial", .. factors, "seed", "state", "step", "best", "final", "test", "loss", "time", "note"]);
        foreach (var t in status.Trials)
            table.Add([I(t.Number), .. factors.Select(f => ValueOf(t, f)), t.Seed.ToString(CultureInfo.InvariantCulture) + (t.Confirmation ? " (confirm)" : ""),
                Name(t.State), $"{t.Step}/{t.Steps}", F(t.Best), F(t.Final), F(t.Test), F(t.Loss), t.WallTime is { } w ? Duration(w.TotalSeconds) : "", t.Reason ?? ""]);
        table.WriteTo(output);
    }

    static void Leaderboard(SweepStatus status, int top, TextWriter output)
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
        if (Confirmation.Of(status) is not { } confirmation) return;
        output.WriteLine();
        output.WriteLine($"confirmation: the top configurations again with fresh seeds, ranked by mean validation {metric} (95% interval)");
        var confirmed = new TextTable("configuration", "search", "seeds done", $"validation {metric}", $"test {metric}");
        foreach (var c in confirmation.Ranked)
            confirmed.Add(c.Label, F(c.Search), $"{c.Completed}/{c.Seeds}", Interval(c.Validation), Interval(c.Test));
        confirmed.WriteTo(output);
        output.WriteLine(confirmation.Verdict);
    }

    static void Compare(Comparison comparison, bool importance, TextWriter output)
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

    static string Interval(MeanInterval? m) => m is null ? "-" : double.IsNaN(m.Low) ? $"{F(m.Mean)} (one seed)" : $"{F(m.Mean)} [{F(m.Low)}, {F(m.High)}]";

    /// <summary>Trial <paramref name="number"/>, or the best one by the objective.</summary>
    static SweepTrial ChooseTrial(SweepStatus status, int? number)
    {
        if (number is { } n)
            return status.Trials.FirstOrDefault(t => t.Number == n)
                ?? throw new UsageException($"--trial: sweep {status.SweepId} has trials 1..{status.Trials.Count}");
        return SweepReport.Leaderboard(status, 1).FirstOrDefault()
            ?? throw new UsageException($"sweep {status.SweepId} has no evaluated trial yet; say --trial N");
    }

    // A TPE trial shows no values until its configuration is proposed.
    static string ValueOf(SweepTrial t, string factor) => t.Factors.FirstOrDefault(v => v.Factor == factor)?.Value ?? "-";
    static string Factors(SweepTrial t) => string.Join(" ", t.Factors.Select(f => $"{f.Factor}={f.Value}"));
    static string Bar(double fraction, int width) => "[" + new string('#', (int)Math.Round(Math.Clamp(fraction, 0, 1) * width)).PadRight(width, '.') + "]";
    static string Duration(double seconds) => seconds < 90 ? $"{seconds:0}s" : seconds < 5400 ? $"{seconds / 60:0}m" : $"{seconds / 3600:0.0}h";
    static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
    static string F(double? v) => v is null || double.IsNaN(v.Value) ? "-" : v.Value.ToString("0.####", CultureInfo.InvariantCulture);
    static string Name<T>(T value) where T : struct, Enum => SweepReport.Name(value);
}

/// <summary>A spec with problems: each is printed on its own line, and the client exits with code 2.</summary>
public sealed class SpecException(IReadOnlyList<string> problems) : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
