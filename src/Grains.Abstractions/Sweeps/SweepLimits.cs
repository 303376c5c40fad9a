using Distributed.Options;
namespace Distributed.Grains.Abstractions.Sweeps;

/// <summary>
/// How large a sweep spec may be, as text and as a plan. The client checks them as a courtesy; the sweep grain checks
/// them again on whatever it receives. docs/limits.md lists each one and what the user sees when it is hit.
/// </summary>
public static class SweepLimits
{
    /// <summary>Trials one sweep may plan: grid configurations (or random samples) × repeats.</summary>
    public const int MaxTrials = 10_000;
    /// <summary>Bytes of spec text, checked before it is parsed.</summary>
    public const int MaxSpecBytes = 1 << 20;
    /// <summary>Maps and lists nested inside each other; a real spec needs about five.</summary>
    public const int MaxDepth = 32;
    /// <summary>Maps, lists and single values in one spec.</summary>
    public const int MaxNodes = 20_000;
    /// <summary>Characters of a sweep's name, which is its id.</summary>
    public const int MaxNameLength = 200;
    /// <summary>Characters of any one string in a spec or a swept value (a TSV path, a name, a key).</summary>
    public const int MaxStringLength = OptionLimits.MaxStringLength;
    /// <summary>Characters of one swept value as JSON (a map value sets several options at once).</summary>
    public const int MaxValueLength = 16_384;
    /// <summary>Values one swept option may list.</summary>
    public const int MaxValues = 1000;
    /// <summary>Options one sweep may vary.</summary>
    public const int MaxDimensions = 64;
}
