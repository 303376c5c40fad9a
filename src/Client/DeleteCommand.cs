using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Sweeps;

namespace Distributed.Client;

/// <summary>`delete ID [--cancel]`: removes a finished or cancelled sweep and everything its trials stored.</summary>
public static class DeleteCommand
{
    public const string Verb = "delete";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "cancel", "json" };
    public static readonly VerbUsage[] Usage = [new("delete ID [--cancel]", "delete a finished or cancelled sweep, its trials and their files;\n--cancel cancels a running one first")];

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
        bool cancel = cli.Flag("cancel");
        var sweepId = cli.Positional("sweep id to delete");
        cli.RejectUnknown();

        await using var connection = await Connection.OpenAsync(target);
        SweepDeletion deleted;
        try
        {
            deleted = await connection.Grains.GetGrain<ISweepGrain>(sweepId).DeleteAsync(cancel);
        }
        catch (ArgumentException e) when (e.Message.StartsWith("no sweep", StringComparison.Ordinal))
        {
            throw new UsageException($"{e.Message} ({connection.Description}); `distributed list` shows them");
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new UsageException(e.Message);
        }
        if (json) output.WriteLine(JsonSerializer.Serialize(deleted, SweepReport.Json));
        else output.WriteLine($"deleted sweep {deleted.SweepId}{(deleted.Cancelled ? " (cancelled first)" : "")}: {deleted.Trials} trials, {deleted.Artifacts} artifacts; " +
                              "`distributed datasets` shows the datasets no sweep names any more");
        return 0;
    }
}
