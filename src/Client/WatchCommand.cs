using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;
using static Distributed.Client.SweepViews;

namespace Distributed.Client;

/// <summary>`watch ID`: live progress of the running trials until the sweep ends, then the leaderboard.</summary>
public static class WatchCommand
{
    public const string Verb = "watch";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "json" };
    public static readonly VerbUsage[] Usage = [new("watch ID", "live progress of the running trials until the sweep ends")];

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
        var sweepId = cli.Positional("sweep id");
        cli.RejectUnknown();
        await using var connection = await Connection.OpenAsync(target);
        await SweepLookup.StatusAsync(connection, sweepId);
        var status = await WatchAsync(connection.Grains.GetGrain<ISweepGrain>(sweepId), output, json);
        if (json) output.WriteLine(SweepReport.ToJson(status));
        else Leaderboard(status, 10, output);
        return Outcome(status);
    }
}
