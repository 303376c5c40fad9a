namespace Distributed.Client;

/// <summary>Bad input on the command line: the message names the option; the client exits with code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>"--name value" options after a verb; every option must be known, every value must parse.</summary>
public sealed class CommandLine
{
    readonly Dictionary<string, string> values = new(StringComparer.Ordinal);
    readonly HashSet<string> used = new(StringComparer.Ordinal);
    readonly List<string> positionals = [];
    int positionalsUsed;

    public CommandLine(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                positionals.Add(a);
                continue;
            }
            var name = a[2..];
            if (flags.Contains(name)) { values[name] = "true"; continue; }
            if (i + 1 >= list.Count) throw new UsageException($"--{name}: needs a value");
            values[name] = list[++i];
        }
    }

    public string? Text(string name)
    {
        used.Add(name);
        return values.GetValueOrDefault(name);
    }

    public bool Flag(string name) => Text(name) is not null;

    /// <summary>The next positional argument; <paramref name="what"/> names it when it is missing.</summary>
    public string Positional(string what)
    {
        if (positionalsUsed >= positionals.Count) throw new UsageException($"missing {what}");
        return positionals[positionalsUsed++];
    }

    /// <summary>The next positional argument, or null when there is none.</summary>
    public string? OptionalPositional() => positionalsUsed < positionals.Count ? positionals[positionalsUsed++] : null;

    public int Int(string name, int fallback) => Parse(name, fallback, s => (int.TryParse(s, out var v), v));
    public double Double(string name, double fallback) =>
        Parse(name, fallback, s => (double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v), v));

    public T Enum<T>(string name, T fallback) where T : struct, System.Enum =>
        Parse(name, fallback, s => (System.Enum.TryParse<T>(s, ignoreCase: true, out var v) && System.Enum.IsDefined(v) && !int.TryParse(s, out _), v),
            $"must be one of {string.Join(", ", System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");

    T Parse<T>(string name, T fallback, Func<string, (bool, T)> parse, string? expected = null)
    {
        var text = Text(name);
        if (text is null) return fallback;
        var (ok, value) = parse(text);
        if (!ok) throw new UsageException($"--{name}: '{text}' {expected ?? "is not a valid " + typeof(T).Name.ToLowerInvariant()}");
        return value;
    }

    /// <summary>Every option not read yet, in the order given: a command that takes options by name (train) reads them all.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Rest()
    {
        var rest = values.Where(v => !used.Contains(v.Key)).ToList();
        foreach (var (name, _) in rest) used.Add(name);
        return rest;
    }

    /// <summary>Options given but never read by the command are typos: refuse them.</summary>
    public void RejectUnknown()
    {
        if (positionalsUsed < positionals.Count) throw new UsageException($"unexpected argument '{positionals[positionalsUsed]}'");
        var unknown = values.Keys.Where(k => !used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(u => "--" + u))}");
    }
}
