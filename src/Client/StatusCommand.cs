using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;
using static Distributed.Client.SweepViews;

namespace Distributed.Client;

/// <summary>`status ID`, and `cancel ID` (which stops the sweep first): the sweep and each trial.</summary>
public static class StatusCommand
{
    public const string Verb = "status";
    public const string CancelVerb = "cancel";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "json" };
    public static readonly VerbUsage[] Usage = [new("status ID", "the sweep and each trial")];
    public static readonly VerbUsage[] CancelUsage = [new("cancel ID", "stop running trials (their results are kept), start no more")];

    public static Task<int> RunAsync(CommandLine cli, TextWriter output) => ShowAsync(cli, output, cancel: false);

    public static Task<int> CancelAsync(CommandLine cli, TextWriter output) => ShowAsync(cli, output, cancel: true);

    static async Task<int> ShowAsync(CommandLine cli, TextWriter output, bool cancel)
    {
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
        var sweepId = cli.Positional("sweep id");
        cli.RejectUnknown();
        await using var connection = await Connection.OpenAsync(target);
        var status = cancel
            ? await connection.Grains.GetGrain<ISweepGrain>(sweepId).CancelAsync() ?? throw SweepLookup.Unknown(connection, sweepId)
            : await SweepLookup.StatusAsync(connection, sweepId);
        if (json) output.WriteLine(SweepReport.ToJson(status));
        else Status(status, output);
        return 0;
    }
}
