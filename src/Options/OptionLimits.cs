namespace Distributed.Options;

/// <summary>Bounds every option shares, so no caller can size a string or a count of steps at will.</summary>
public static class OptionLimits
{
    /// <summary>Characters of one string option (a path, a name).</summary>
    public const int MaxStringLength = 4096;
    /// <summary>Longest trial, and the bound of every other count of steps.</summary>
    public const int MaxSteps = 100_000_000;
}
