using Orleans;
namespace Distributed.Options;

/// <summary>Synthetic seq2seq tasks that need no data files.</summary>
[GenerateSerializer, Alias("BuiltInTaskKind")]
public enum BuiltInTaskKind
{
    /// <summary>A digit string to itself.</summary>
    Copy,
    /// <summary>A digit string to its reverse.</summary>
    Reverse,
    /// <summary>A digit string to its digits in ascending order.</summary>
    Sort,
    /// <summary>"357+48" to "405".</summary>
    Addition,
    /// <summary>A date written in one of many human formats to its ISO form, "2026-11-25".</summary>
    DateNormalisation,
}

/// <summary>How text is cut into tokens.</summary>
[GenerateSerializer, Alias("TokenizationKind")]
public enum TokenizationKind
{
    /// <summary>One token per Unicode scalar value; joined without separators.</summary>
    Character,
    /// <summary>One token per run of non-whitespace; joined with single spaces.</summary>
    Word,
}
