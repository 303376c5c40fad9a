using Distributed.Grains.Abstractions.Sweeps;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distributed.Sweeps;

/// <summary>
/// Fills option records from a parsed spec (YAML or JSON, as a JSON tree): field names are the camelCase property
/// names, unknown fields are errors, and every error names its path ("model.hiddenSize: 'big' is not a whole number").
/// </summary>
public static class OptionBinder
{
    /// <summary>A copy of <paramref name="defaults"/> with the fields of <paramref name="node"/> set.</summary>
    public static T Bind<T>(JsonNode? node, T defaults, string path, List<string> errors) where T : class =>
        (T)Convert(typeof(T), node, defaults, path, errors)!;

    /// <summary>The bindable fields of an options record, by spec name.</summary>
    public static IReadOnlyDictionary<string, PropertyInfo> Fields(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetIndexParameters().Length == 0)
            .ToDictionary(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name), StringComparer.Ordinal);

    public static bool IsRecord(Type type) =>
        type.IsClass && type != typeof(string) && type.GetMethod("<Clone>$") is not null;

    /// <summary>Converts <paramref name="node"/> to <paramref name="type"/>; on a problem adds an error and returns <paramref name="current"/>.</summary>
    public static object? Convert(Type type, JsonNode? node, object? current, string path, List<string> errors)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (node is null)
        {
            if (underlying is not null || !type.IsValueType) return type == typeof(string) || underlying is not null ? null : current;
            errors.Add($"{path}: must not be empty");
            return current;
        }
        type = underlying ?? type;
        if (IsRecord(type)) return BindRecord(type, node, current, path, errors);
        if (node is not JsonValue)
        {
            errors.Add($"{path}: must be a single value, not a {(node is JsonArray ? "list" : "map")}");
            return current;
        }
        var text = Text(node);
        if (type == typeof(string)) return text;
        if (type == typeof(bool))
        {
            if (bool.TryParse(text, out var b)) return b;
            errors.Add($"{path}: '{text}' must be true or false");
            return current;
        }
        if (type.IsEnum)
        {
            var match = Enum.GetNames(type).FirstOrDefault(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase));
            if (match is not null) return Enum.Parse(type, match);
            errors.Add($"{path}: '{text}' must be one of {string.Join(", ", Enum.GetNames(type).Select(n => JsonNamingPolicy.CamelCase.ConvertName(n)))}");
            return current;
        }
        if (type == typeof(int)) return Number(text, path, errors, current, s => (int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v), v), "a whole number");
        if (type == typeof(long)) return Number(text, path, errors, current, s => (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v), v), "a whole number");
        if (type == typeof(ulong)) return Number(text, path, errors, current, s => (ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v), v), "a whole number >= 0");
        if (type == typeof(double))
            return Number(text, path, errors, current, s => (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v), v), "a number");
        if (type == typeof(TimeSpan))
        {
            if (Duration(text) is { } span) return span;
            errors.Add($"{path}: '{text}' is not a duration (seconds, or 500ms, 30s, 2m, 1h)");
            return current;
        }
        errors.Add($"{path}: cannot be set from a spec");
        return current;
    }

    static object? BindRecord(Type type, JsonNode node, object? current, string path, List<string> errors)
    {
        if (node is not JsonObject map)
        {
            errors.Add($"{path}: must be a map of fields");
            return current;
        }
        var result = current is null ? Activator.CreateInstance(type)! : type.GetMethod("<Clone>$")!.Invoke(current, null)!;
        var fields = Fields(type);
        foreach (var (name, value) in map)
        {
            var fieldPath = path.Length == 0 ? name : $"{path}.{name}";
            if (!fields.TryGetValue(name, out var property))
            {
                errors.Add($"{fieldPath}: unknown field{Suggest(name, fields.Keys)}");
                continue;
            }
            property.SetValue(result, Convert(property.PropertyType, value, property.GetValue(result), fieldPath, errors));
        }
        return result;
    }

    /// <summary>A scalar's text: strings as they are, numbers and booleans as written.</summary>
    public static string Text(JsonNode node) => node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();

    static object? Number<T>(string text, string path, List<string> errors, object? current, Func<string, (bool, T)> parse, string what)
    {
        var (ok, value) = parse(text);
        if (ok) return value;
        errors.Add($"{path}: '{text}' is not {what}");
        return current;
    }

    static TimeSpan? Duration(string text)
    {
        text = text.Trim();
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, seconds) in units)
            if (text.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
                return TimeSpan.FromSeconds(n * seconds);
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain) && plain >= 0) return TimeSpan.FromSeconds(plain);
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) ? span : null;
    }

    /// <summary>" (did you mean x?)" for a near miss, else empty.</summary>
    public static string Suggest(string name, IEnumerable<string> known)
    {
        // Against the whole name and its start, so "hiden" finds "hiddenSize".
        var lower = name.ToLowerInvariant();
        var best = known.Select(k => k.ToLowerInvariant() is var key
                ? (Key: k, Distance: Math.Min(Distance(lower, key), Distance(lower, key[..Math.Min(key.Length, lower.Length + 1)]) + 1))
                : default)
            .MinBy(k => k.Distance);
        return best.Key is not null && best.Distance <= Math.Max(2, name.Length / 3) ? $" (did you mean {best.Key}?)" : "";
    }

    static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
