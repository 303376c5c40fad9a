namespace Distributed.Options;

/// <summary>Collects "prefix.field: message" problems, so every bad field of an options record is reported at once.</summary>
public sealed class OptionErrors(string prefix)
{
    readonly List<string> errors = [];

    public void Check(bool ok, string field, string message)
    {
        if (!ok) errors.Add(prefix.Length == 0 ? $"{field}: {message}" : $"{prefix}.{field}: {message}");
    }

    public void Add(IEnumerable<string> more) => errors.AddRange(more);

    public IReadOnlyList<string> List => errors;

    /// <summary>The path of a nested options record under this prefix.</summary>
    public static string Child(string prefix, string name) => prefix.Length == 0 ? name : $"{prefix}.{name}";

    /// <summary>Problems one message lists before it says how many more there are.</summary>
    public const int MaxListed = 50;

    /// <summary>The problems one per line, at most <see cref="MaxListed"/> of them, so a hostile spec cannot make a huge message.</summary>
    public static string Describe(IReadOnlyList<string> problems) =>
        string.Join(Environment.NewLine, problems.Count <= MaxListed ? problems : [.. problems.Take(MaxListed), $"... and {problems.Count - MaxListed} more problems"]);

    /// <summary>Throws <see cref="ArgumentException"/> listing the problems; returns the options when there is none.</summary>
    public static T EnsureValid<T>(T options, IReadOnlyList<string> problems)
    {
        if (problems.Count > 0) throw new ArgumentException(Describe(problems));
        return options;
    }
}
