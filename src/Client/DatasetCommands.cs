using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Sweeps;

namespace Distributed.Client;

/// <summary>`datasets`: what the cluster stores for the files specs named, and `datasets delete` for the ones no sweep needs.</summary>
public static class DatasetCommands
{
    public const string Verb = "datasets";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "json" };
    public static readonly VerbUsage[] Usage = [new("datasets", "the TSV files submit stored in the cluster, and the sweeps naming them"), new("datasets delete HASH", "delete one (6+ hex digits of its SHA-256) no unfinished sweep names")];

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
        var action = cli.OptionalPositional();
        if (action is not (null or "delete")) throw new UsageException($"datasets: unknown action '{action}' (list them with no action, or delete one)");
        var delete = action is null ? null : cli.Positional("dataset to delete: 6 or more hex digits of its SHA-256, as `distributed datasets` shows them");
        cli.RejectUnknown();

        await using var connection = await Connection.OpenAsync(target);
        var catalog = connection.Grains.GetGrain<IDatasetCatalogGrain>(0);
        if (delete is not null)
        {
            StoredDataset deleted;
            try
            {
                deleted = await catalog.DeleteAsync(delete);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                throw new UsageException(e.Message);
            }
            if (json) output.WriteLine(JsonSerializer.Serialize(deleted, SweepReport.Json));
            else output.WriteLine($"deleted dataset {deleted.Info.Hash} ({Names(deleted)}, {deleted.Info.Bytes:N0} bytes)" +
                                  (deleted.Sweeps.Count > 0 ? $"; finished sweeps that named it keep their results: {string.Join(", ", deleted.Sweeps)}" : ""));
            return 0;
        }

        var datasets = await catalog.ListAsync();
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(datasets, SweepReport.Json));
            return 0;
        }
        var table = new TextTable("dataset", "names", "bytes", "stored", "sweeps", "unfinished");
        foreach (var d in datasets)
            table.Add(d.Info.Hash[..12], Names(d), d.Info.Bytes.ToString("N0", CultureInfo.InvariantCulture),
                d.Info.StoredAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), string.Join(",", d.Sweeps), string.Join(",", d.UnfinishedSweeps));
        table.WriteTo(output);
        return 0;
    }

    static string Names(StoredDataset d) => d.Names.Count > 0 ? string.Join(",", d.Names) : "(no sweep names it)";
}
