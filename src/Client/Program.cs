using Distributed.Client;
using Distributed.Models;
using Distributed.Models.Data;
using Distributed.Options;

// Every line the client prints, results and errors alike, goes through one cleaning writer.
Console.SetOut(new TerminalText.Writer(Console.Out));
Console.SetError(new TerminalText.Writer(Console.Error));

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(ClientVerbs.Usage());
    return args.Length == 0 ? 2 : 0;
}
try
{
    if (args[0] == Completion.Query) return await Completion.CompleteAsync(args[1..], Console.Out);
    if (args[0] == TrainCommand.Verb && args.Skip(1).Any(a => a is "-h" or "--help"))
    {
        Console.WriteLine(TrainCommand.FieldUsage());
        return 0;
    }
    if (ClientVerbs.Find(args[0]) is { } verb) return await verb.Run(new CommandLine(args.Skip(1), verb.Flags), Console.Out);
    throw new UsageException($"unknown command '{args[0]}' (distributed --help lists them)");
}
catch (SpecException e)
{
    foreach (var problem in e.Problems.Take(OptionErrors.MaxListed)) Console.Error.WriteLine($"error: {TerminalText.Clean(problem)}");
    if (e.Problems.Count > OptionErrors.MaxListed) Console.Error.WriteLine($"error: ... and {e.Problems.Count - OptionErrors.MaxListed} more problems");
    return 2;
}
catch (UsageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
catch (CorpusFormatException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
catch (FileNotFoundException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
catch (UnauthorizedAccessException e)
{
    // The cluster refused this certificate's role the call (or the call is not open to clients at all).
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
catch (ConnectionException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
