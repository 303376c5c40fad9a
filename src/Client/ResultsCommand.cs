using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;
using static Distributed.Client.SweepViews;

namespace Distributed.Client;

/// <summary>`results ID [--top N]`: the leaderboard by validation, with test figures and the confirmation's verdict.</summary>
public static class ResultsCommand
{
    public const string Verb = "results";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "json" };
    public static readonly VerbUsage[] Usage = [new("results ID [--top N]", "leaderboard by the objective")];

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
        var sweepId = cli.Positional("sweep id");
        int top = cli.Int("top", int.MaxValue);
        if (top < 1) throw new UsageException("--top: must be >= 1");
        cli.RejectUnknown();
        await using var connection = await Connection.OpenAsync(target);
        var status = await SweepLookup.StatusAsync(connection, sweepId);
        if (json) output.WriteLine(JsonSerializer.Serialize(SweepReport.Leaderboard(status, top), SweepReport.Json));
        else Leaderboard(status, top, output);
        return 0;
    }
}
