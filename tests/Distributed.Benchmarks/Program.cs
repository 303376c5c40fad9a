using Distributed.Benchmarks;

// Every case trains, as a silo or `distributed train` would: the same native heap settings.
Distributed.Models.Training.NativeHeap.Configure();

// One JSON line per case. `--list` names the cases; `--case NAME` (repeatable) runs some; no argument runs all.
var cases = BenchmarkCases.All;
if (args.Contains("--list"))
{
    foreach (var c in cases) Console.WriteLine($"{c.Name}\t{c.Description}");
    return 0;
}
var chosen = new List<BenchmarkCase>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--case" && i + 1 < args.Length)
    {
        var name = args[++i];
        var found = cases.FirstOrDefault(c => c.Name == name);
        if (found is null)
        {
            Console.Error.WriteLine($"error: unknown case '{name}'; --list shows the cases");
            return 2;
        }
        chosen.Add(found);
    }
    else
    {
        Console.Error.WriteLine($"error: unexpected argument '{args[i]}' (use --list or --case NAME)");
        return 2;
    }
}
foreach (var c in chosen.Count > 0 ? chosen : cases) Console.WriteLine(c.Run());
return 0;
