using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;
using static Distributed.Client.SweepViews;

namespace Distributed.Client;

/// <summary>`compare ID [--by F | --by A,B] [--importance] [--split validation|test]`: paired effects, marginal means, importance.</summary>
public static class CompareCommand
{
    public const string Verb = "compare";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "json", "importance" };
    public static readonly VerbUsage[] Usage = [new("compare ID [--by F | --by A,B] [--importance] [--split validation|test]", "paired effects with verdicts, marginal means, importance")];

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
        var sweepId = cli.Positional("sweep id");
        var by = cli.Text("by");
        var split = cli.Text("split") ?? "validation";
        if (split is not ("validation" or "test")) throw new UsageException($"--split: '{split}' must be validation or test");
        bool importance = cli.Flag("importance");
        cli.RejectUnknown();
        await using var connection = await Connection.OpenAsync(target);
        var status = await SweepLookup.StatusAsync(connection, sweepId);
        var comparison = SweepReport.Compare(status, by, split == "test")
            ?? throw new UsageException($"--by: '{by}' must be one swept factor, or two as a,b; sweep {sweepId} sweeps: {string.Join(", ", status.Spec.Search.Space.Select(d => d.Key))}");
        if (json) output.WriteLine(JsonSerializer.Serialize(comparison, SweepReport.Json));
        else Compare(comparison, importance, output);
        return 0;
    }
}
