using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Distributed.Grains.Abstractions.Sweeps;

/// <summary>Parses spec text, YAML or JSON, into one JSON tree; a syntax error names the file, line and column.</summary>
public static class SpecText
{
    public static JsonNode? Parse(string text, string source, List<string> errors)
    {
        bool json = source.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        try
        {
            if (json) return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var yaml = new YamlStream();
            yaml.Load(new StringReader(text));
            return yaml.Documents.Count == 0 ? new JsonObject() : FromYaml(yaml.Documents[0].RootNode, source, errors);
        }
        catch (JsonException e)
        {
            errors.Add($"{source}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: {e.Message.Split(" LineNumber")[0]}");
        }
        catch (YamlException e)
        {
            errors.Add($"{source}:{e.Start.Line}:{e.Start.Column}: {e.InnerException?.Message ?? e.Message}");
        }
        return null;
    }

    static JsonNode? FromYaml(YamlNode node, string source, List<string> errors)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (var (key, value) in map.Children)
                {
                    var name = ((YamlScalarNode)key).Value ?? "";
                    if (obj.ContainsKey(name)) errors.Add($"{source}:{key.Start.Line}:{key.Start.Column}: '{name}' appears twice");
                    else obj[name] = FromYaml(value, source, errors);
                }
                return obj;
            case YamlSequenceNode list:
                var array = new JsonArray();
                foreach (var item in list.Children) array.Add(FromYaml(item, source, errors));
                return array;
            case YamlScalarNode scalar:
                bool plain = scalar.Style == ScalarStyle.Plain;
                if (plain && scalar.Value is null or "~" or "null" or "") return null;
                return JsonValue.Create(scalar.Value);
            default:
                errors.Add($"{source}:{node.Start.Line}:{node.Start.Column}: aliases are not supported");
                return null;
        }
    }
}
