using Distributed.Client;
using Distributed.Models;
using Distributed.Models.Data;
using Distributed.Options;

const string usage = """
    usage: distributed COMMAND [options]

    sweeps (with no --cluster, an embedded silo keeps everything under --data-dir, default ./.distributed):
      submit SPEC.yaml|SPEC.json [--id ID] [--wait]   validate and start a sweep; --wait watches it to the end
      list                                            every sweep
      status ID                                       the sweep and each trial
      watch ID                                        live progress of the running trials until the sweep ends
      results ID [--top N]                            leaderboard by the objective
      compare ID [--by F | --by A,B] [--importance] [--split validation|test]
                                                      paired effects with verdicts, marginal means, importance
      replay ID --rule asha|median [--grace N] [--eta N] [--min-trials N]
                                                      what a stopping rule would have saved on a finished sweep's
                                                      learning curves, and whether it would have kept the winner
      export ID --format csv|json --out FILE          every trial, for your own analysis
      plot ID --out FILE.png [--top N | --trial N]    learning curves of the top trials (default 5)
      plot ID --attention "INPUT" --out FILE.png [--trial N] [--beam K]   attention weights of a trial on an input
      predict ID [--trial N] [--beam K] "INPUT"       decode an input with a trial's checkpoint (default: the best trial)
      cancel ID                                       stop running trials (their results are kept), start no more
      delete ID [--cancel]                            delete a finished or cancelled sweep, its trials and their files;
                                                      --cancel cancels a running one first
      datasets                                        the TSV files submit stored in the cluster, and the sweeps naming them
      datasets delete HASH                            delete one (6+ hex digits of its SHA-256) no unfinished sweep names
      every query takes --json; connection: --cluster HOST:PORT [--cluster-id X --service-id Y]
        | --storage-connection CONN (a cluster on Azure Storage, found through its membership table) | --data-dir DIR

    one local model, no cluster:
      train [SPEC.yaml] [--OPTION VALUE ...]          train one replica of a spec's trial and print its metrics;
                                                      options by field name, defaults as in a spec (train --help)

    exit codes: 0 done, 1 failed at run time, 2 bad input
    """;

// Every line the client prints, results and errors alike, goes through one cleaning writer.
Console.SetOut(new TerminalText.Writer(Console.Out));
Console.SetError(new TerminalText.Writer(Console.Error));

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(usage);
    return args.Length == 0 ? 2 : 0;
}
try
{
    if (args[0] == TrainCommand.Verb && args.Skip(1).Any(a => a is "-h" or "--help"))
    {
        Console.WriteLine(TrainCommand.Usage());
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
catch (ConnectionException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
