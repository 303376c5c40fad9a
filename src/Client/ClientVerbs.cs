using System.Text;

namespace Distributed.Client;

/// <summary>One line of a command's usage: how it is called, and what it does (lines split by \n).</summary>
public sealed record VerbUsage(string Synopsis, string Meaning);

/// <summary>One command of the client: its name, the options it takes without a value, its usage, and what it runs.</summary>
public sealed record ClientVerb(string Name, IReadOnlySet<string> Flags, IReadOnlyList<VerbUsage> Usage, Func<CommandLine, TextWriter, Task<int>> Run);

/// <summary>Every command, each in its own class; Program dispatches through this list and prints its usage from it.</summary>
public static class ClientVerbs
{
    /// <summary>Commands on sweeps, through a cluster or the embedded silo.</summary>
    public static readonly IReadOnlyList<ClientVerb> Sweeps =
    [
        new(SubmitCommand.Verb, SubmitCommand.Flags, SubmitCommand.Usage, SubmitCommand.RunAsync),
        new(ListCommand.Verb, ListCommand.Flags, ListCommand.Usage, ListCommand.RunAsync),
        new(StatusCommand.Verb, StatusCommand.Flags, StatusCommand.Usage, StatusCommand.RunAsync),
        new(WatchCommand.Verb, WatchCommand.Flags, WatchCommand.Usage, WatchCommand.RunAsync),
        new(ResultsCommand.Verb, ResultsCommand.Flags, ResultsCommand.Usage, ResultsCommand.RunAsync),
        new(CompareCommand.Verb, CompareCommand.Flags, CompareCommand.Usage, CompareCommand.RunAsync),
        new(ReplayCommand.Verb, ReplayCommand.Flags, ReplayCommand.Usage, ReplayCommand.RunAsync),
        new(ExportCommand.Verb, ExportCommand.Flags, ExportCommand.Usage, ExportCommand.RunAsync),
        new(PredictCommand.PlotVerb, PredictCommand.Flags, PredictCommand.PlotUsage, PredictCommand.PlotAsync),
        new(PredictCommand.Verb, PredictCommand.Flags, PredictCommand.Usage, PredictCommand.RunAsync),
        new(StatusCommand.CancelVerb, StatusCommand.Flags, StatusCommand.CancelUsage, StatusCommand.CancelAsync),
        new(DeleteCommand.Verb, DeleteCommand.Flags, DeleteCommand.Usage, DeleteCommand.RunAsync),
        new(DatasetCommands.Verb, DatasetCommands.Flags, DatasetCommands.Usage, DatasetCommands.RunAsync),
        new(DashboardCommand.Verb, DashboardCommand.Flags, DashboardCommand.Usage, DashboardCommand.RunAsync),
    ];

    /// <summary>Commands on one local model, with no cluster.</summary>
    public static readonly IReadOnlyList<ClientVerb> Local =
    [
        new(TrainCommand.Verb, TrainCommand.Flags, TrainCommand.Usage, (cli, output) => Task.FromResult(TrainCommand.Run(cli, output))),
    ];

    /// <summary>The client itself.</summary>
    public static readonly IReadOnlyList<ClientVerb> Shell =
    [
        new(Completion.Verb, Completion.Flags, Completion.Usage, Completion.RunAsync),
    ];

    public static IEnumerable<ClientVerb> All => Sweeps.Concat(Local).Concat(Shell);

    public static ClientVerb? Find(string name) => All.FirstOrDefault(v => v.Name == name);

    const int SynopsisWidth = 48;

    /// <summary>The options every command on sweeps takes, as the usage prints them (completion reads them from here too).</summary>
    public static readonly string[] SweepOptions =
    [
        "  every query takes --json; connection: --cluster HOST:PORT [--cluster-id X --service-id Y] [--tls DIR (tls.crt, tls.key, ca.crt)]",
        "    | --data-dir DIR (a cluster on Azure Storage is found through its membership table with DISTRIBUTED_STORAGE=azure and DISTRIBUTED_STORAGE_CONNECTION)",
    ];

    /// <summary>`distributed --help`: every command's usage lines, from the lists above.</summary>
    public static string Usage()
    {
        var text = new StringBuilder();
        text.AppendLine("usage: distributed COMMAND [options]");
        text.AppendLine();
        text.AppendLine("sweeps (with no --cluster, an embedded silo keeps everything under --data-dir, default ./.distributed):");
        Append(text, Sweeps);
        foreach (var line in SweepOptions) text.AppendLine(line);
        text.AppendLine();
        text.AppendLine("one local model, no cluster:");
        Append(text, Local);
        text.AppendLine();
        text.AppendLine("the client:");
        Append(text, Shell);
        text.AppendLine();
        text.Append("exit codes: 0 done, 1 failed at run time, 2 bad input");
        return text.ToString();
    }

    static void Append(StringBuilder text, IEnumerable<ClientVerb> verbs)
    {
        var indent = new string(' ', SynopsisWidth + 2);
        foreach (var line in verbs.SelectMany(v => v.Usage))
        {
            var meaning = line.Meaning.Split('\n');
            // A synopsis too long for its column puts its meaning on the lines below.
            text.AppendLine(line.Synopsis.Length < SynopsisWidth ? $"  {line.Synopsis.PadRight(SynopsisWidth)}{meaning[0]}" : $"  {line.Synopsis}");
            foreach (var more in line.Synopsis.Length < SynopsisWidth ? meaning.Skip(1) : meaning) text.AppendLine(indent + more);
        }
    }
}
