using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;
using static Distributed.Client.SweepViews;

namespace Distributed.Client;

/// <summary>
/// `predict ID [--trial N] [--beam K] "INPUT"`: decodes an input with a trial's checkpoint; and
/// `plot ID --attention "INPUT" --out F.png` or `plot ID --out F.png [--top N | --trial N]`: attention or learning curves.
/// </summary>
public static class PredictCommand
{
    public const string Verb = "predict";
    public const string PlotVerb = "plot";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "json", "schedule" };
    public static readonly VerbUsage[] PlotUsage = [new("plot ID --out FILE.png [--top N | --trial N]", "learning curves of the top trials (default 5)"), new("plot ID --attention \"INPUT\" --out FILE.png [--trial N] [--beam K]", "attention weights of a trial on an input"), new("plot ID --schedule --out FILE.png [--trial N]", "PBT: the options a member (default: the best) trained with, over steps")];
    public static readonly VerbUsage[] Usage = [new("predict ID [--trial N] [--beam K] \"INPUT\"", "decode an input with a trial's checkpoint (default: the best trial)")];

    public static Task<int> RunAsync(CommandLine cli, TextWriter output) => RunAsync(cli, output, plot: false);

    public static Task<int> PlotAsync(CommandLine cli, TextWriter output) => RunAsync(cli, output, plot: true);

    static async Task<int> RunAsync(CommandLine cli, TextWriter output, bool plot)
    {
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
        var sweepId = cli.Positional("sweep id");
        int top = plot ? cli.Int("top", 5) : 5;
        int? trialNumber = cli.Text("trial") is not null ? cli.Int("trial", 0) : null;
        int beam = cli.Int("beam", 1);
        var input = plot ? cli.Text("attention") : cli.Positional("input text to decode");
        var png = plot ? cli.Text("out") ?? throw new UsageException("--out: say which PNG file to write") : null;
        bool schedule = plot && cli.Flag("schedule");
        if (beam is < 1 or > 64) throw new UsageException("--beam: must be 1..64");
        if (top < 1) throw new UsageException("--top: must be >= 1");
        cli.RejectUnknown();

        await using var connection = await Connection.OpenAsync(target);
        var status = await SweepLookup.StatusAsync(connection, sweepId);
        if (schedule)
        {
            var member = ChooseTrial(status, trialNumber);
            var stretches = PopulationBasedTraining.ScheduleOf(status, member.Number)
                            ?? throw new UsageException($"--schedule: sweep {sweepId} is not a PBT sweep (search.method: pbt); its trials keep their options");
            // The line's evaluations: each stretch's from the member it ran in, up to where the next stretch took over.
            var evaluations = new List<EvaluationMetrics>();
            for (int i = 0; i < stretches.Count; i++)
            {
                long to = i + 1 < stretches.Count ? stretches[i + 1].From : long.MaxValue;
                var ran = status.Trials.First(t => t.Number == stretches[i].Member);
                evaluations.AddRange((await connection.Grains.GetGrain<ITrialGrain>(ran.TrialId).GetEvaluationsAsync(-1)).Where(e => e.Step > stretches[i].From && e.Step <= to));
            }
            Plots.Schedule(status, member, stretches, evaluations, png!);
            output.WriteLine($"wrote the schedule trial {member.Number} followed ({stretches.Count} stretches) to {png}");
            return 0;
        }
        if (input is null)
        {
            var chosen = trialNumber is { } n ? [ChooseTrial(status, n)] : SweepReport.Leaderboard(status, top);
            if (chosen.Count == 0) throw new UsageException($"sweep {sweepId} has no evaluated trial to plot yet");
            var curves = new List<(SweepTrial, TrialMetrics)>();
            foreach (var t in chosen) curves.Add((t, await connection.Grains.GetGrain<ITrialGrain>(t.TrialId).GetMetricsAsync(-1)));
            Plots.LearningCurves(status, curves, png!);
            output.WriteLine($"wrote the learning curves of {curves.Count} trial{(curves.Count == 1 ? "" : "s")} to {png}");
            return 0;
        }
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
        if (plot)
        {
            Plots.Attention(prediction, $"trial {trial.Number}, step {prediction.Step}: {input} -> {prediction.Output}", png!);
            output.WriteLine($"wrote the attention of trial {trial.Number} on \"{input}\" to {png}");
        }
        else if (json) output.WriteLine(JsonSerializer.Serialize(new { trial = trial.Number, prediction.Output, prediction.SourceTokens, prediction.OutputTokens, prediction.Step }, SweepReport.Json));
        else output.WriteLine(prediction.Output);
        return 0;
    }
}
