using Distributed.Options;

namespace Distributed.Grains.Abstractions.Sweeps;

/// <summary>
/// <c>confirm: { top: K, seeds: S }</c>: after the search, its K best configurations run again with S seeds it never
/// used (the same S for each, so they pair), to full length and without a stopping rule.
/// </summary>
[GenerateSerializer, Immutable, Alias("ConfirmOptions")]
public sealed record ConfirmOptions
{
    [Id(0)] public int Top { get; init; } = 2;
    [Id(1)] public int Seeds { get; init; } = 3;

    public const int MaxTop = 10;
    public const int MaxSeeds = 100;

    public IReadOnlyList<string> Validate(string prefix)
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Top is >= 2 and <= MaxTop, "top", $"must be 2..{MaxTop}: a winner is declared against the runner-up");
        errors.Check(Seeds is >= 2 and <= MaxSeeds, "seeds", $"must be 2..{MaxSeeds}: an interval needs two seeds at least");
        return errors.List;
    }
}
