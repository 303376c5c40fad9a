using Distributed.Client;
using Distributed.Models.Data;

const string usage = """
    usage: distributed train [options]
      --task copy|reverse|sort|addition|datenormalisation   built-in task (default reverse)
      --tsv FILE [--tokens character|word] [--skip-bad-lines] your own source<TAB>target data
      --examples N --min-length N --max-length N --seed N
      --cell lstm|gru|rnn --embedding N --hidden N --layers 1..4 --bidirectional
      --attention none|dot|multiplicative|additive --dropout P --recurrent-dropout P --layer-norm
      --optimizer adam|adamw|sgd --lr X --warmup N --decay none|linear|cosine|inversesqrt|exponential --decay-steps N --batch N --clip X --steps N --eval-every N --beam K --json
    """;

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(usage);
    return args.Length == 0 ? 2 : 0;
}
try
{
    return args[0] switch
    {
        "train" => TrainCommand.Run(new CommandLine(args.Skip(1), TrainCommand.Flags), Console.Out),
        _ => throw new UsageException($"unknown command '{args[0]}'"),
    };
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
