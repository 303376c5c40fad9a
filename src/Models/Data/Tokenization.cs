using Distributed.Options;
namespace Distributed.Models.Data;

/// <summary>Turns text into tokens and back.</summary>
public static class Tokenizer
{
    /// <summary>Cuts <paramref name="text"/> into tokens. Character tokens are whole runes, so surrogate pairs stay together.</summary>
    public static string[] Split(string text, TokenizationKind kind)
    {
        ArgumentNullException.ThrowIfNull(text);
        return kind switch
        {
            // EnumerateRunes turns a lone surrogate into U+FFFD rather than a half character.
            TokenizationKind.Character => text.EnumerateRunes().Select(r => r.ToString()).ToArray(),
            TokenizationKind.Word => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown tokenization"),
        };
    }

    /// <summary>Joins tokens the way <see cref="Split"/> cut them.</summary>
    public static string Join(IEnumerable<string> tokens, TokenizationKind kind)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return kind switch
        {
            TokenizationKind.Character => string.Concat(tokens),
            TokenizationKind.Word => string.Join(' ', tokens),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown tokenization"),
        };
    }
}
