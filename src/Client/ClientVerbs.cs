namespace Distributed.Client;

/// <summary>One command of the client: its name, the options it takes without a value, and what it runs.</summary>
public sealed record ClientVerb(string Name, IReadOnlySet<string> Flags, Func<CommandLine, TextWriter, Task<int>> Run);

/// <summary>Every command, each in its own class; Program dispatches through this list.</summary>
public static class ClientVerbs
{
    public static readonly IReadOnlyList<ClientVerb> All =
    [
        new(SubmitCommand.Verb, SubmitCommand.Flags, SubmitCommand.RunAsync),
        new(ListCommand.Verb, ListCommand.Flags, ListCommand.RunAsync),
        new(StatusCommand.Verb, StatusCommand.Flags, StatusCommand.RunAsync),
        new(WatchCommand.Verb, WatchCommand.Flags, WatchCommand.RunAsync),
        new(ResultsCommand.Verb, ResultsCommand.Flags, ResultsCommand.RunAsync),
        new(CompareCommand.Verb, CompareCommand.Flags, CompareCommand.RunAsync),
        new(ReplayCommand.Verb, ReplayCommand.Flags, ReplayCommand.RunAsync),
        new(ExportCommand.Verb, ExportCommand.Flags, ExportCommand.RunAsync),
        new(PredictCommand.PlotVerb, PredictCommand.Flags, PredictCommand.PlotAsync),
        new(PredictCommand.Verb, PredictCommand.Flags, PredictCommand.RunAsync),
        new(StatusCommand.CancelVerb, StatusCommand.Flags, StatusCommand.CancelAsync),
        new(DeleteCommand.Verb, DeleteCommand.Flags, DeleteCommand.RunAsync),
        new(DatasetCommands.Verb, DatasetCommands.Flags, DatasetCommands.RunAsync),
        new(TrainCommand.Verb, TrainCommand.Flags, (cli, output) => Task.FromResult(TrainCommand.Run(cli, output))),
    ];

    public static ClientVerb? Find(string name) => All.FirstOrDefault(v => v.Name == name);
}
