using Distributed.Grains.Abstractions.Sweeps;
using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Training;

namespace Distributed.Sweeps;

/// <summary>Sets one option of a trial spec by its path ("model.layers", "training.teacherForcing"), as a sweep does.</summary>
public static class SpecPatch
{
    /// <summary>
    /// The full path of a swept option: a dotted path is checked field by field; a bare name ("layers") must name
    /// exactly one option. Null with <paramref name="problem"/> when it does not.
    /// </summary>
    public static string? Resolve(string key, out string problem)
    {
        problem = "";
        if (key.Contains('.'))
        {
            var type = typeof(TrialSpec);
            var done = new List<string>();
            foreach (var segment in key.Split('.'))
            {
                var fields = OptionBinder.Fields(type);
                if (!OptionBinder.IsRecord(type) || !fields.TryGetValue(segment, out var property))
                {
                    problem = $"unknown option{(done.Count > 0 ? $" '{segment}' in {string.Join('.', done)}" : "")}{OptionBinder.Suggest(segment, fields.Keys)}";
                    return null;
                }
                done.Add(segment);
                type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            }
            return key;
        }
        var matches = AllPaths(typeof(TrialSpec), "").Where(p => p == key || p.EndsWith("." + key, StringComparison.Ordinal)).ToList();
        if (matches.Count == 1) return matches[0];
        problem = matches.Count == 0
            ? $"unknown option{OptionBinder.Suggest(key, AllPaths(typeof(TrialSpec), "").Select(p => p[(p.LastIndexOf('.') + 1)..]))}"
            : $"ambiguous: say {string.Join(" or ", matches)}";
        return null;
    }

    /// <summary>True when <paramref name="path"/> is the full path of an option, as a sweep dimension records it.</summary>
    public static bool Exists(string path)
    {
        var type = typeof(TrialSpec);
        foreach (var segment in path.Split('.'))
        {
            if (!OptionBinder.IsRecord(type) || !OptionBinder.Fields(type).TryGetValue(segment, out var property)) return false;
            type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        }
        return true;
    }

    static IEnumerable<string> AllPaths(Type type, string prefix)
    {
        foreach (var (name, property) in OptionBinder.Fields(type))
        {
            var path = prefix.Length == 0 ? name : $"{prefix}.{name}";
            yield return path;
            var child = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (OptionBinder.IsRecord(child))
                foreach (var deeper in AllPaths(child, path)) yield return deeper;
        }
    }

    /// <summary>A copy of <paramref name="trial"/> with the option at <paramref name="path"/> set to <paramref name="value"/>.</summary>
    public static TrialSpec Apply(TrialSpec trial, string path, JsonNode? value, string errorPath, List<string> errors) =>
        (TrialSpec)Set(trial, path.Split('.'), 0, value, errorPath, errors);

    static object Set(object record, string[] segments, int index, JsonNode? value, string errorPath, List<string> errors)
    {
        var property = OptionBinder.Fields(record.GetType())[segments[index]];
        var copy = record.GetType().GetMethod("<Clone>$")!.Invoke(record, null)!;
        var current = property.GetValue(record);
        var next = index == segments.Length - 1
            ? OptionBinder.Convert(property.PropertyType, value, current, errorPath, errors)
            : Set(current!, segments, index + 1, value, errorPath, errors);
        property.SetValue(copy, next);
        return copy;
    }
}
