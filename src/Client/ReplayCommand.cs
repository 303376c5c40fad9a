using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Client;

/// <summary>
/// `replay ID --rule asha|median [--grace N] [--eta N] [--min-trials N]`: what a stopping rule would have done to a
/// finished sweep's recorded learning curves: the steps it would have saved, and whether it would have kept the winner.
/// </summary>
public static class ReplayCommand
{
    public const string Verb = "replay";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "json" };
    public static readonly VerbUsage[] Usage = [new("replay ID --rule asha|median [--grace N] [--eta N] [--min-trials N]", "what a stopping rule would have saved on a finished sweep's\nlearning curves, and whether it would have kept the winner")];

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
        var sweepId = cli.Positional("sweep id to replay");
        var ruleName = cli.Text("rule") ?? throw new UsageException("--rule: say asha or median");
        var kind = ruleName switch
        {
            "asha" => StoppingRule.Asha,
            "median" => StoppingRule.Median,
            _ => throw new UsageException($"--rule: '{ruleName}' must be asha or median"),
        };
        var defaults = new EarlyStopping();
        var rule = new EarlyStopping
        {
            Rule = kind,
            GracePeriod = cli.Int("grace", defaults.GracePeriod),
            ReductionFactor = cli.Int("eta", defaults.ReductionFactor),
            MinTrials = cli.Int("min-trials", defaults.MinTrials),
        };
        cli.RejectUnknown();

        await using var connection = await Connection.OpenAsync(target);
        var status = await connection.Grains.GetGrain<ISweepGrain>(sweepId).GetStatusAsync()
            ?? throw new UsageException($"no sweep '{sweepId}' ({connection.Description}); `distributed list` shows them");
        if (!status.IsFinished) throw new UsageException($"sweep {sweepId} is still running; replay it once it has finished");
        // The rule is checked against this sweep's length and evaluation interval, as a spec with it would be.
        var problems = (status.Spec with { EarlyStopping = rule }).Validate()
            .Where(p => p.StartsWith("sweep.earlyStopping.", StringComparison.Ordinal))
            .Select(p => p.Replace("sweep.earlyStopping.gracePeriod", "--grace").Replace("sweep.earlyStopping.reductionFactor", "--eta")
                .Replace("sweep.earlyStopping.minTrials", "--min-trials"))
            .ToList();
        if (problems.Count > 0) throw new SpecException(problems);

        var curves = new Dictionary<int, IReadOnlyList<EvaluationMetrics>>();
        foreach (var t in status.Trials.Where(t => !t.Confirmation && t.StartedAt is not null))
            curves[t.Number] = await connection.Grains.GetGrain<ITrialGrain>(t.TrialId).GetEvaluationsAsync(-1);
        ReplayResult result;
        try
        {
            result = StoppingReplay.Run(status, curves, rule);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(result, SweepReport.Json));
            return 0;
        }
        var factors = status.Spec.Search.Space.Select(d => d.Key).ToList();
        var table = new TextTable(["trial", .. factors, "recorded", "replayed", "steps recorded", "steps replayed"]);
        foreach (var t in result.Trials)
            table.Add([t.Number.ToString(CultureInfo.InvariantCulture), .. factors.Select(f => t.Factors.FirstOrDefault(v => v.Factor == f)?.Value ?? "-"),
                SweepReport.Name(t.Recorded), SweepReport.Name(t.Replayed), t.RecordedSteps.ToString(CultureInfo.InvariantCulture), t.ReplayedSteps.ToString(CultureInfo.InvariantCulture)]);
        table.WriteTo(output);
        output.WriteLine(result.Verdict);
        return 0;
    }
}
