using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;

namespace Distributed.Sweeps;

/// <summary>
/// One trial from the sweep spec format: a spec file with no search space (or none: every default) and options set
/// by name on top, through the same paths and binder a sweep's search space uses (<c>model.layers</c>, or a bare
/// name that names one option: <c>layers</c>). So `distributed train` has the spec's defaults, and a flag means
/// exactly what the same field means in a spec.
/// </summary>
public static class TrialOverrides
{
    /// <summary>
    /// The trial <paramref name="specFile"/> (null: an empty spec) describes, with each (name, value) set on it; the
    /// value is read as YAML (<c>2</c>, <c>additive</c>, <c>{ schedule: linear, slope: 0.001 }</c>). Every
    /// problem names its field or flag.
    /// </summary>
    public static (TrialSpec? Trial, IReadOnlyList<string> Errors) Resolve(string? specFile, IEnumerable<KeyValuePair<string, string>> overrides)
    {
        var (spec, errors) = specFile is null ? SweepSpecReader.Read("{}", "the defaults") : SweepSpecReader.ReadFile(specFile);
        if (spec is null) return (null, errors);
        if (spec.Search.Space.Count > 0)
            return (null, [$"search.space: {specFile} sweeps {spec.Search.Space.Count} options; train runs one trial (`distributed submit` runs a sweep)"]);
        var trial = spec.BaseTrial;
        var problems = new List<string>();
        foreach (var (name, text) in overrides)
        {
            var at = $"--{name}";
            var path = SpecPatch.Resolve(name, out var unknown);
            if (path is null)
            {
                problems.Add($"{at}: {unknown}");
                continue;
            }
            var parsed = new List<string>();
            var value = SpecText.Parse(text, at, parsed);
            if (parsed.Count > 0)
            {
                problems.AddRange(parsed);
                continue;
            }
            trial = SpecPatch.Apply(trial, path, value, at, problems);
        }
        if (problems.Count == 0) problems.AddRange(trial.Validate(""));
        return problems.Count == 0 ? (trial, []) : (null, problems);
    }

    /// <summary>Every option a trial has, with its default, for a usage text generated from the same records.</summary>
    public static IReadOnlyList<(string Path, string Default)> Options()
    {
        var defaults = System.Text.Json.JsonSerializer.SerializeToNode(new SweepSpec().BaseTrial, SweepReport.Json)!;
        var options = new List<(string, string)>();
        void Walk(Type type, string prefix, System.Text.Json.Nodes.JsonNode? node)
        {
            foreach (var (name, property) in OptionBinder.Fields(type))
            {
                var path = prefix.Length == 0 ? name : $"{prefix}.{name}";
                var child = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
                var value = node?[name];
                if (OptionBinder.IsRecord(child)) Walk(child, path, value);
                else options.Add((path, value?.ToJsonString() ?? "null"));
            }
        }
        Walk(typeof(TrialSpec), "", defaults);
        return options;
    }
}
