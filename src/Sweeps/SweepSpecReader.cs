using Distributed.Grains.Abstractions.Sweeps;
using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Training;

namespace Distributed.Sweeps;

/// <summary>
/// The one place a sweep spec is read: YAML or JSON text to a <see cref="SweepSpec"/>, every problem reported at
/// once with its field path, before anything runs. Expanding it into trials checks every trial too (<see cref="SweepPlan"/>).
/// </summary>
public static class SweepSpecReader
{
    static readonly string[] SpaceKinds = ["values", "uniform", "logUniform", "intRange"];

    public static (SweepSpec? Spec, IReadOnlyList<string> Errors) Read(string text, string source)
    {
        var errors = new List<string>();
        var root = SpecText.Parse(text, source, errors);
        if (errors.Count > 0) return (null, errors);
        if (root is not JsonObject map) return (null, [$"{source}: a sweep spec is a map of fields (name, data, model, training, parallel, schedule, search, ...)"]);

        // search.space is a map of option paths, not fields: it is read on its own below.
        JsonNode? space = null;
        if (map["search"] is JsonObject search && search.ContainsKey("space"))
        {
            space = search["space"];
            search = (JsonObject)search.DeepClone();
            search.Remove("space");
            map = (JsonObject)map.DeepClone();
            map["search"] = search;
        }
        var spec = OptionBinder.Bind(map, new SweepSpec(), "", errors);
        var dimensions = ReadSpace(space, spec.BaseTrial, errors);
        spec = spec with { Search = spec.Search with { Space = dimensions } };
        errors.AddRange(SweepProblems.Of(spec).Where(e => !errors.Contains(e)));
        // Combinations are checked only once every field and value is right on its own.
        if (errors.Count == 0) errors.AddRange(SweepPlan.Expand(spec).Errors);
        return errors.Count == 0 ? (spec, errors) : (null, errors);
    }

    /// <summary>Reads a spec file; a missing, oversized or non-regular file (a device, a pipe) is an error naming it.</summary>
    public static (SweepSpec? Spec, IReadOnlyList<string> Errors) ReadFile(string path)
    {
        var text = SpecFile.Read(path, out var problem);
        return text is null ? (null, [problem]) : Read(text, path);
    }

    static IReadOnlyList<SearchDimension> ReadSpace(JsonNode? node, TrialSpec trial, List<string> errors)
    {
        if (node is null) return [];
        if (node is not JsonObject space)
        {
            errors.Add("search.space: must be a map from option (e.g. model.layers) to its values");
            return [];
        }
        if (space.Count > SweepLimits.MaxDimensions)
        {
            errors.Add($"search.space: varies {space.Count} options; at most {SweepLimits.MaxDimensions}");
            return [];
        }
        var dimensions = new List<SearchDimension>();
        foreach (var (key, value) in space)
        {
            var at = $"search.space.{key}";
            // A dimension with a problem is left out, so the spec's own checks do not report it a second time.
            int before = errors.Count;
            var dimension = Dimension(key, value, at, trial, errors);
            if (dimension is not null && errors.Count == before) dimensions.Add(dimension);
        }
        return dimensions;
    }

    static SearchDimension? Dimension(string key, JsonNode? value, string at, TrialSpec trial, List<string> errors)
    {
        var path = SpecPatch.Resolve(key, out var problem);
        if (path is null)
        {
            errors.Add($"{at}: {problem}");
            return null;
        }
        if (value is JsonArray list) return ValuesDimension(path, key, list, at, trial, errors);
        var kinds = value is JsonObject o ? o.Select(p => p.Key).Where(SpaceKinds.Contains).ToList() : [];
        if (value is not JsonObject spec || kinds.Count != 1 || spec.Count != 1)
        {
            errors.Add($"{at}: must be a list of values, or one of {{values: [...]}}, {{uniform: [min, max]}}, {{logUniform: [min, max]}}, {{intRange: [min, max]}}");
            return null;
        }
        if (kinds[0] == "values")
        {
            if (spec["values"] is JsonArray values) return ValuesDimension(path, key, values, at, trial, errors);
            errors.Add($"{at}.values: must be a list");
            return null;
        }
        var kind = kinds[0] switch { "uniform" => DimensionKind.Uniform, "logUniform" => DimensionKind.LogUniform, _ => DimensionKind.IntRange };
        if (spec[kinds[0]] is not JsonArray { Count: 2 } bounds)
        {
            errors.Add($"{at}.{kinds[0]}: must be [min, max]");
            return null;
        }
        var before = errors.Count;
        double min = (double)OptionBinder.Convert(typeof(double), bounds[0], 0.0, $"{at}.{kinds[0]}[0]", errors)!;
        double max = (double)OptionBinder.Convert(typeof(double), bounds[1], 0.0, $"{at}.{kinds[0]}[1]", errors)!;
        if (errors.Count > before) return null;
        if (min > max) errors.Add($"{at}.{kinds[0]}: min {min} is above max {max}");
        if (kind == DimensionKind.LogUniform && min <= 0) errors.Add($"{at}.logUniform: min must be > 0");
        if (kind == DimensionKind.IntRange && (min != Math.Floor(min) || max != Math.Floor(max))) errors.Add($"{at}.intRange: min and max must be whole numbers");
        var dimension = new SearchDimension { Path = path, Key = key, Kind = kind, Min = min, Max = max };
        foreach (var (bound, index) in new[] { (min, 0), (max, 1) })
            CheckValue(trial, dimension, JsonValue.Create(bound), $"{at}.{kinds[0]}[{index}]", errors);
        return dimension;
    }

    static SearchDimension? ValuesDimension(string path, string key, JsonArray list, string at, TrialSpec trial, List<string> errors)
    {
        if (list.Count == 0) errors.Add($"{at}: needs at least one value");
        if (list.Count > SweepLimits.MaxValues)
        {
            // Each value is checked by patching a trial: not done for a list that is refused anyway.
            errors.Add($"{at}: lists {list.Count} values; at most {SweepLimits.MaxValues}");
            return null;
        }
        var dimension = new SearchDimension { Path = path, Key = key, Kind = DimensionKind.Values, Values = list.Select(v => v?.ToJsonString() ?? "null").ToList() };
        for (int i = 0; i < list.Count; i++) CheckValue(trial, dimension, list[i], $"{at}[{i}]", errors);
        return dimension;
    }

    /// <summary>Sets one value on the base trial and reports what is wrong with it under the value's own path.</summary>
    static void CheckValue(TrialSpec trial, SearchDimension dimension, JsonNode? value, string at, List<string> errors)
    {
        var local = new List<string>();
        var patched = SpecPatch.Apply(trial, dimension.Path, value?.DeepClone(), at, local);
        if (local.Count == 0)
        {
            var prefix = $"{dimension.Path}";
            foreach (var problem in patched.Validate(""))
                if (problem.StartsWith(prefix + ":", StringComparison.Ordinal) || problem.StartsWith(prefix + ".", StringComparison.Ordinal))
                    local.Add(problem.StartsWith(prefix + ":", StringComparison.Ordinal) ? $"{at}{problem[prefix.Length..]}" : $"{at}: {problem}");
        }
        errors.AddRange(local);
    }
}
