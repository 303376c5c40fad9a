using System.Text.RegularExpressions;

namespace Distributed.Options;

/// <summary>
/// How a spec names a stored dataset in <c>data.tsvPath</c>: <c>dataset:&lt;sha256&gt;</c>, optionally followed by
/// <c>/file-name</c> for people reading it. The client writes these when it uploads the files a spec names.
/// </summary>
public static partial class DatasetReference
{
    public const string Scheme = "dataset:";
    /// <summary>Bytes in one uploaded part: well under Orleans' message limit, and one blob each.</summary>
    public const int PartBytes = 4 << 20;
    /// <summary>The largest dataset submit uploads and a silo stores: 1 GiB, 256 parts.</summary>
    public const long MaxBytes = 1L << 30;

    public static string Format(string hash, string? fileName) =>
        string.IsNullOrEmpty(fileName) ? Scheme + hash : $"{Scheme}{hash}/{fileName}";

    public static bool IsReference(string? tsvPath) => tsvPath is not null && tsvPath.StartsWith(Scheme, StringComparison.Ordinal);

    /// <summary>The hash a reference names; false for a file path or a malformed reference.</summary>
    public static bool TryParse(string? tsvPath, out string hash)
    {
        hash = "";
        if (!IsReference(tsvPath)) return false;
        var match = Shape().Match(tsvPath!);
        if (!match.Success) return false;
        hash = match.Groups[1].Value;
        return true;
    }

    public static bool IsHash(string key) => HashShape().IsMatch(key);

    /// <summary>The file name a reference carries for people, or null.</summary>
    public static string? FileName(string reference) => Shape().Match(reference) is { Success: true } m && m.Groups[2].Success ? m.Groups[2].Value[1..] : null;

    /// <summary>How a reference reads in tables: "name@" and 12 hex digits of its hash (enough to tell files apart).</summary>
    public static string Display(string reference)
    {
        if (!TryParse(reference, out var hash)) return reference;
        return FileName(reference) is { } name ? $"{name}@{hash[..12]}" : $"{Scheme}{hash[..12]}";
    }

    /// <summary>The key a dataset is stored under: the SHA-256 of its bytes in lowercase hex.</summary>
    public static string HashOf(Stream content) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));

    /// <inheritdoc cref="HashOf"/>
    public static async Task<string> HashOfAsync(Stream content) =>
        Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(content));


    /// <summary>Every dataset reference in <paramref name="text"/> (a spec as JSON, say), with its file name when it has one.</summary>
    public static IEnumerable<string> FindIn(string text) => Anywhere().Matches(text).Select(m => m.Value);

    [GeneratedRegex("dataset:[0-9a-f]{64}(/[^/\"\\\\]+)?")]
    private static partial Regex Anywhere();

    [GeneratedRegex("^dataset:([0-9a-f]{64})(/[^/]+)?$")]
    private static partial Regex Shape();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex HashShape();
}
