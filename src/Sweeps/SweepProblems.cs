using Distributed.Grains.Abstractions.Sweeps;

namespace Distributed.Sweeps;

/// <summary>
/// The one recipe for what is wrong with a sweep spec's fields, for the client reading a file and the sweep grain
/// taking a spec from any caller alike: the sweep's own fields, the base trial's, and that every swept path names
/// an option of the trial spec. Each problem names its field ("search.space.layers: ..."). What the fields expand to
/// is checked after, by <see cref="SweepPlan.Expand"/>, only once these are right.
/// </summary>
public static class SweepProblems
{
    public static List<string> Of(SweepSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var problems = spec.Validate().Select(e => e["sweep.".Length..]).ToList();
        problems.AddRange(spec.BaseTrial.Validate("").Where(e => !problems.Contains(e)));
        foreach (var d in spec.Search?.Space ?? [])
            if (d?.Path is { Length: > 0 and <= 200 } path && d.Key is { Length: > 0 and <= 200 } key && !key.Any(char.IsControl) && !SpecPatch.Exists(path))
                problems.Add($"search.space.{key}: path must name an option of the trial spec");
        if (problems.Count == 0) problems.AddRange(PopulationBasedTraining.Problems(spec));
        return problems;
    }
}
