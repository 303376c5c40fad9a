using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;
using static Distributed.Client.SweepViews;

namespace Distributed.Client;

/// <summary>`export ID --format csv|json --out FILE`: every trial, for the user's own analysis.</summary>
public static class ExportCommand
{
    public const string Verb = "export";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "json" };
    public static readonly VerbUsage[] Usage = [new("export ID --format csv|json --out FILE", "every trial, for your own analysis")];

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        var target = Connection.Target.From(cli);
        cli.Flag("json");
        var sweepId = cli.Positional("sweep id");
        var format = cli.Text("format") ?? throw new UsageException("--format: say csv or json");
        var outFile = cli.Text("out") ?? throw new UsageException("--out: say which file to write");
        if (format is not ("csv" or "json")) throw new UsageException($"--format: '{format}' must be csv or json");
        cli.RejectUnknown();
        await using var connection = await Connection.OpenAsync(target);
        var status = await SweepLookup.StatusAsync(connection, sweepId);
        var text = format == "csv" ? SweepReport.Csv(status) : SweepReport.ToJson(status, await SweepReport.HistoriesAsync(status, connection.Grains));
        try
        {
            await File.WriteAllTextAsync(outFile, text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--out: cannot write {outFile}: {e.Message}");
        }
        output.WriteLine($"wrote {status.Trials.Count} trials to {outFile}");
        return 0;
    }
}
