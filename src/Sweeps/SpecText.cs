using Distributed.Grains.Abstractions.Sweeps;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Distributed.Sweeps;

/// <summary>
/// Parses spec text, YAML or JSON, into one JSON tree within <see cref="SweepLimits"/>: size, nesting depth, node count
/// and string length are checked as the text is read, never after, so no input can make it run long or grow without
/// bound. Every error names the file, line and column.
/// </summary>
public static class SpecText
{
    public static JsonNode? Parse(string text, string source, List<string> errors)
    {
        int before = errors.Count;
        int bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > SweepLimits.MaxSpecBytes)
        {
            errors.Add($"{source}: the spec is {bytes} bytes; at most {SweepLimits.MaxSpecBytes} (1 MiB)");
            return null;
        }
        bool json = source.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        var root = json ? Json(text, source, errors) : Yaml(text, source, errors);
        if (errors.Count > before) return null;
        if (root is null) errors.Add($"{source}: the spec is empty; a sweep spec is a map of fields (name, data, model, training, parallel, schedule, search, ...)");
        return root;
    }

    /// <summary>A map or list being filled, and in a map the key whose value comes next.</summary>
    sealed class Open(JsonNode node)
    {
        public JsonNode Node { get; } = node;
        public string? Key { get; set; }
        public bool DuplicateKey { get; set; }
    }

    static JsonNode? Yaml(string text, string source, List<string> errors)
    {
        // Events, not YamlStream: an alias would become a shared node that a tree walk visits once per path to it.
        var parser = new Parser(new StringReader(text));
        var open = new Stack<Open>();
        JsonNode? root = null;
        int nodes = 0, documents = 0;
        string At(Mark mark) => $"{source}:{mark.Line}:{mark.Column}";
        try
        {
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                if (e is DocumentStart && ++documents > 1)
                    return Fail(errors, $"{At(e.Start)}: a spec file holds one document; remove the second '---'");
                if (e is AnchorAlias || e is NodeEvent { Anchor.IsEmpty: false })
                    return Fail(errors, $"{At(e.Start)}: anchors and aliases (&x, *x) are not supported");
                if (e is NodeEvent && ++nodes > SweepLimits.MaxNodes)
                    return Fail(errors, $"{At(e.Start)}: more than {SweepLimits.MaxNodes} values, maps and lists in one spec");

                var parent = open.Count > 0 ? open.Peek() : null;
                bool isKey = parent is { Node: JsonObject, Key: null };
                JsonNode? value;
                switch (e)
                {
                    case MappingStart or SequenceStart:
                        if (isKey) return Fail(errors, $"{At(e.Start)}: a key must be a single value, not a map or a list");
                        if (open.Count >= SweepLimits.MaxDepth)
                            return Fail(errors, $"{At(e.Start)}: maps and lists nested more than {SweepLimits.MaxDepth} deep");
                        open.Push(new Open(e is MappingStart ? new JsonObject() : new JsonArray()));
                        continue;
                    case MappingEnd or SequenceEnd:
                        value = open.Pop().Node;
                        parent = open.Count > 0 ? open.Peek() : null;
                        break;
                    case Scalar scalar:
                        if (scalar.Value.Length > SweepLimits.MaxStringLength)
                            return Fail(errors, $"{At(e.Start)}: a value of {scalar.Value.Length} characters; at most {SweepLimits.MaxStringLength}");
                        if (isKey)
                        {
                            var map = (JsonObject)parent!.Node;
                            parent.Key = scalar.Value;
                            parent.DuplicateKey = map.ContainsKey(scalar.Value);
                            if (parent.DuplicateKey) errors.Add($"{At(e.Start)}: Duplicate key {scalar.Value}");
                            continue;
                        }
                        value = scalar.Style == ScalarStyle.Plain && scalar.Value is "~" or "null" or "" ? null : JsonValue.Create(scalar.Value);
                        break;
                    default:
                        continue;
                }
                if (parent is null) root = value;
                else if (parent.Node is JsonArray list) list.Add(value);
                else
                {
                    if (!parent.DuplicateKey) ((JsonObject)parent.Node)[parent.Key!] = value;
                    parent.Key = null;
                }
            }
        }
        catch (YamlException e)
        {
            return Fail(errors, $"{At(e.Start)}: {e.InnerException?.Message ?? e.Message}");
        }
        return root;
    }

    static JsonNode? Json(string text, string source, List<string> errors)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        // One pass over the tokens first: the limits are checked, with positions, before any tree is built.
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = SweepLimits.MaxDepth,
        });
        var keys = new Stack<HashSet<string>?>();
        int nodes = 0;
        bool duplicate = false;
        string At(long offset)
        {
            var upTo = bytes.AsSpan(0, (int)offset);
            int line = upTo.Count((byte)'\n') + 1;
            int column = (int)offset - (upTo.LastIndexOf((byte)'\n') + 1) + 1;
            return $"{source}:{line}:{column}";
        }
        try
        {
            while (reader.Read())
            {
                var token = reader.TokenType;
                if (token is JsonTokenType.EndObject or JsonTokenType.EndArray)
                {
                    keys.Pop();
                    continue;
                }
                int length = token is JsonTokenType.String or JsonTokenType.PropertyName ? reader.GetString()!.Length : reader.ValueSpan.Length;
                if (length > SweepLimits.MaxStringLength)
                    return Fail(errors, $"{At(reader.TokenStartIndex)}: a value of {length} characters; at most {SweepLimits.MaxStringLength}");
                if (token == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString()!;
                    if (!keys.Peek()!.Add(name))
                    {
                        errors.Add($"{At(reader.TokenStartIndex)}: Duplicate key {name}");
                        duplicate = true;
                    }
                    continue;
                }
                if (++nodes > SweepLimits.MaxNodes)
                    return Fail(errors, $"{At(reader.TokenStartIndex)}: more than {SweepLimits.MaxNodes} values, maps and lists in one spec");
                if (token == JsonTokenType.StartObject) keys.Push([]);
                else if (token == JsonTokenType.StartArray) keys.Push(null);
            }
        }
        catch (JsonException e)
        {
            // Only whitespace and comments: the same "empty" as a YAML file without a document.
            if (nodes == 0 && e.Message.Contains("does not contain any JSON tokens", StringComparison.Ordinal)) return null;
            return Fail(errors, $"{source}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: {e.Message.Split(" LineNumber")[0]}");
        }
        if (nodes == 0 || duplicate) return null;
        return JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions
        {
            CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = SweepLimits.MaxDepth,
        });
    }

    static JsonNode? Fail(List<string> errors, string error)
    {
        errors.Add(error);
        return null;
    }
}
