namespace Distributed.Models.Data;

/// <summary>
/// Where examples come from: a built-in task generated from a seed, or the user's TSV file. Validated at start;
/// <see cref="Load"/> gives the split, encoded data.
/// </summary>
public sealed record DataOptions
{
    /// <summary>Built-in task; ignored when <see cref="TsvPath"/> is set.</summary>
    public BuiltInTaskKind Task { get; init; } = BuiltInTaskKind.Reverse;
    /// <summary>The user's parallel data (UTF-8, source TAB target per line).</summary>
    public string? TsvPath { get; init; }
    /// <summary>Examples generated for a built-in task (before the split).</summary>
    public int Examples { get; init; } = 6000;
    public int MinLength { get; init; } = 8;
    public int MaxLength { get; init; } = 12;
    public double ValidFraction { get; init; } = 0.1;
    public double TestFraction { get; init; } = 0.1;
    public ulong Seed { get; init; } = 1;
    /// <summary>Character tokens for built-in tasks; TSV files may choose words.</summary>
    public TokenizationKind Tokenization { get; init; } = TokenizationKind.Character;
    /// <summary>Skip and count bad TSV lines instead of stopping at the first one.</summary>
    public bool SkipBadLines { get; init; }
    public int MaxLineLength { get; init; } = 1000;

    public IReadOnlyList<string> Validate(string prefix = "data")
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Enum.IsDefined(Task), "task", "must be copy, reverse, sort, addition or dateNormalisation");
        errors.Check(TsvPath is null || TsvPath.Length > 0, "tsvPath", "must not be empty");
        errors.Check(TsvPath is not null || Examples is >= 1 and <= 10_000_000, "examples", "must be 1..10000000");
        errors.Check(MinLength is >= 1 and <= 1000, "minLength", "must be 1..1000");
        errors.Check(MaxLength >= MinLength && MaxLength <= 1000, "maxLength", "must be minLength..1000");
        errors.Check(ValidFraction is >= 0 and < 1, "validFraction", "must be in [0, 1)");
        errors.Check(TestFraction is >= 0 and < 1, "testFraction", "must be in [0, 1)");
        errors.Check(ValidFraction + TestFraction < 1, "testFraction", "validFraction + testFraction must be < 1");
        errors.Check(Enum.IsDefined(Tokenization), "tokenization", "must be character or word");
        errors.Check(MaxLineLength >= 1, "maxLineLength", "must be >= 1");
        return errors.List;
    }

    /// <summary>Reads or generates, splits and encodes. Bad TSV lines raise <see cref="CorpusFormatException"/> unless skipped.</summary>
    public PreparedData Load()
    {
        OptionErrors.EnsureValid(this, Validate());
        IReadOnlyList<TextPair> pairs;
        if (TsvPath is not null)
        {
            pairs = TsvCorpus.Read(TsvPath, new TsvReadOptions { SkipBadLines = SkipBadLines, MaxLineLength = MaxLineLength }).Pairs;
            if (pairs.Count < 2) throw new ArgumentException($"data.tsvPath: {TsvPath} has {pairs.Count} usable lines; at least 2 are needed");
        }
        else
        {
            pairs = BuiltInTasks.Generate(Task, Examples, MinLength, MaxLength, Seed);
        }
        return PreparedData.From(DatasetSplitter.Split(pairs, ValidFraction, TestFraction, Seed), Tokenization);
    }
}
