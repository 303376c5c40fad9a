using Orleans;

namespace Distributed.Options;

/// <summary>
/// Where examples come from: a built-in task generated from a seed, or the user's TSV file. Validated at start;
/// DataLoading.Load (src/Models) gives the split, encoded data.
/// </summary>
[GenerateSerializer, Immutable, Alias("DataOptions")]
public sealed record DataOptions
{
    /// <summary>Built-in task; ignored when <see cref="TsvPath"/> is set.</summary>
    [Id(0)] public BuiltInTaskKind Task { get; init; } = BuiltInTaskKind.Reverse;
    /// <summary>
    /// The user's parallel data (UTF-8, source TAB target per line): a file, or <c>dataset:&lt;sha256&gt;</c> naming one
    /// the client uploaded into the cluster's store (submit uploads the files a sweep names and writes these).
    /// </summary>
    [Id(1)] public string? TsvPath { get; init; }
    /// <summary>Examples generated for a built-in task (before the split).</summary>
    [Id(2)] public int Examples { get; init; } = 6000;
    [Id(3)] public int MinLength { get; init; } = 8;
    [Id(4)] public int MaxLength { get; init; } = 12;
    [Id(5)] public double ValidFraction { get; init; } = 0.1;
    [Id(6)] public double TestFraction { get; init; } = 0.1;
    [Id(7)] public ulong Seed { get; init; } = 1;
    /// <summary>Character tokens for built-in tasks; TSV files may choose words.</summary>
    [Id(8)] public TokenizationKind Tokenization { get; init; } = TokenizationKind.Character;
    /// <summary>Skip and count bad TSV lines instead of stopping at the first one.</summary>
    [Id(9)] public bool SkipBadLines { get; init; }
    [Id(10)] public int MaxLineLength { get; init; } = 1000;
    /// <summary>Most tokens kept per vocabulary (most frequent first; the rest read as UNK): bounds the embedding and output layers.</summary>
    [Id(11)] public int MaxVocabulary { get; init; } = 32_000;

    /// <summary>Most examples a built-in task generates, and most validation examples an evaluation decodes.</summary>
    public const int MaxExamples = 10_000_000;
    /// <summary>Longest TSV line a spec may allow: a line is held whole while it is read.</summary>
    public const int LineLengthLimit = 1_000_000;

    public IReadOnlyList<string> Validate(string prefix = "data")
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Enum.IsDefined(Task), "task", "must be copy, reverse, sort, addition or dateNormalisation");
        errors.Check(TsvPath is null || TsvPath.Length > 0, "tsvPath", "must not be empty");
        errors.Check(TsvPath is null || TsvPath.Length <= OptionLimits.MaxStringLength, "tsvPath", $"must be at most {OptionLimits.MaxStringLength} characters");
        errors.Check(TsvPath is null || TsvPath.Length > OptionLimits.MaxStringLength || !DatasetReference.IsReference(TsvPath) || DatasetReference.TryParse(TsvPath, out _),
            "tsvPath", $"'{TsvPath}' must be dataset: followed by the file's SHA-256 (64 lowercase hex digits) and optionally /name");
        errors.Check(TsvPath is not null || Examples is >= 1 and <= MaxExamples, "examples", $"must be 1..{MaxExamples}");
        errors.Check(MinLength is >= 1 and <= 1000, "minLength", "must be 1..1000");
        errors.Check(MaxLength >= MinLength && MaxLength <= 1000, "maxLength", "must be minLength..1000");
        errors.Check(ValidFraction is >= 0 and < 1, "validFraction", "must be in [0, 1)");
        errors.Check(TestFraction is >= 0 and < 1, "testFraction", "must be in [0, 1)");
        errors.Check(ValidFraction + TestFraction < 1, "testFraction", "validFraction + testFraction must be < 1");
        errors.Check(Enum.IsDefined(Tokenization), "tokenization", "must be character or word");
        errors.Check(MaxLineLength is >= 1 and <= LineLengthLimit, "maxLineLength", $"must be 1..{LineLengthLimit}");
        errors.Check(MaxVocabulary is >= 8 and <= 1_000_000, "maxVocabulary", "must be 8..1000000");
        return errors.List;
    }
}
