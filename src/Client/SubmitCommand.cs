using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;
using static Distributed.Client.SweepViews;

namespace Distributed.Client;

/// <summary>`submit SPEC [--id ID] [--wait]`: validates a spec, uploads the files it names, and starts the sweep.</summary>
public static class SubmitCommand
{
    public const string Verb = "submit";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "wait", "json" };
    public static readonly VerbUsage[] Usage = [new("submit SPEC.yaml|SPEC.json [--id ID] [--wait]", "validate and start a sweep; --wait watches it to the end")];

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        // Everything the user typed is checked before a silo starts or a cluster is called.
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
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
}
