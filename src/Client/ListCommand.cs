using System.Globalization;
using System.Text.Json;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;
using static Distributed.Client.SweepViews;

namespace Distributed.Client;

/// <summary>`list`: every sweep with its state, progress and best objective.</summary>
public static class ListCommand
{
    public const string Verb = "list";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string> { "json" };
    public static readonly VerbUsage[] Usage = [new("list", "every sweep")];

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        var target = Connection.Target.From(cli);
        bool json = cli.Flag("json");
        cli.RejectUnknown();
        await using var connection = await Connection.OpenAsync(target);
        var ids = await connection.Grains.GetGrain<ISweepIndexGrain>(0).ListAsync();
        var statuses = new List<SweepStatus>();
        foreach (var id in ids)
            if (await connection.Grains.GetGrain<ISweepGrain>(id).GetStatusAsync() is { } s) statuses.Add(s);
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(statuses.Select(s => new
            {
                s.SweepId, s.Spec.Name, s.State, Trials = s.Trials.Count, Finished = s.Trials.Count(t => t.IsFinished),
                Best = SweepReport.Leaderboard(s, 1).FirstOrDefault()?.Best, s.CreatedAt,
            }), SweepReport.Json));
            return 0;
        }
        var table = new TextTable("sweep", "state", "trials", "finished", "best", "objective", "created");
        foreach (var s in statuses)
            table.Add(s.SweepId, Name(s.State), I(s.Trials.Count), I(s.Trials.Count(t => t.IsFinished)),
                F(SweepReport.Leaderboard(s, 1).FirstOrDefault()?.Best), Name(s.Spec.Objective.Metric), s.CreatedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture));
        table.WriteTo(output);
        return 0;
    }
}
