using System.Text;

namespace Distributed.Models.Data;

/// <summary>How strictly <see cref="TsvCorpus"/> reads a file.</summary>
public sealed record TsvReadOptions
{
    /// <summary>Skip and count bad lines instead of failing on the first one.</summary>
    public bool SkipBadLines { get; init; } = false;
    /// <summary>Longest accepted line in UTF-16 characters, line ending excluded.</summary>
    public int MaxLineLength { get; init; } = 1000;
}

/// <summary>What a corpus file held.</summary>
/// <param name="Pairs">The good lines, in file order.</param>
/// <param name="SkippedLines">How many bad lines were skipped.</param>
/// <param name="Problems">"file:line: reason" for the first skipped lines (at most 20).</param>
public sealed record TsvReadResult(IReadOnlyList<TextPair> Pairs, int SkippedLines, IReadOnlyList<string> Problems);

/// <summary>A corpus line that cannot be read as a pair.</summary>
public sealed class CorpusFormatException : Exception
{
    /// <summary>Creates the exception for line <paramref name="line"/> (1-based) of <paramref name="file"/>.</summary>
    public CorpusFormatException(string file, int line, string reason)
        : base($"{file}:{line}: {reason}")
    {
        File = file;
        Line = line;
        Reason = reason;
    }

    /// <summary>The file as the caller named it.</summary>
    public string File { get; }
    /// <summary>1-based line number.</summary>
    public int Line { get; }
    /// <summary>What is wrong with the line.</summary>
    public string Reason { get; }
}

/// <summary>
/// Reads user parallel data: UTF-8, one <c>source&lt;TAB&gt;target</c> per line, LF or CRLF endings,
/// optional BOM. Source and target are kept as written (not trimmed).
/// </summary>
public static class TsvCorpus
{
    private const int MaxProblems = 20;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads the file at <paramref name="path"/>; messages name the path as given.</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="CorpusFormatException">A bad line, unless <see cref="TsvReadOptions.SkipBadLines"/>.</exception>
    public static TsvReadResult Read(string path, TsvReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"corpus file not found: {path}", path);
        using var stream = System.IO.File.OpenRead(path);
        return Read(stream, path, options);
    }

    /// <summary>Reads a corpus from <paramref name="stream"/>; <paramref name="fileName"/> is used in messages.</summary>
    /// <exception cref="CorpusFormatException">A bad line, unless <see cref="TsvReadOptions.SkipBadLines"/>.</exception>
    public static TsvReadResult Read(Stream stream, string fileName, TsvReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(fileName);
        options ??= new TsvReadOptions();
        if (options.MaxLineLength < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxLineLength, "MaxLineLength must be at least 1");

        // Raw bytes, so invalid UTF-8 is reported at its line rather than silently replaced.
        byte[] bytes;
        using (var buffer = new MemoryStream())
        {
            stream.CopyTo(buffer);
            bytes = buffer.ToArray();
        }

        var pairs = new List<TextPair>();
        var problems = new List<string>();
        var skipped = 0;
        var lineNumber = 0;
        for (var start = 0; start < bytes.Length;)
        {
            lineNumber++;
            var newline = Array.IndexOf(bytes, (byte)'\n', start);
            var end = newline < 0 ? bytes.Length : newline;
            var line = bytes.AsSpan(start, end - start);
            start = end + 1;

            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            if (lineNumber == 1 && line.StartsWith(Encoding.UTF8.Preamble)) line = line[Encoding.UTF8.Preamble.Length..];

            var (pair, reason) = ParseLine(line, options.MaxLineLength);
            if (pair is not null)
            {
                pairs.Add(pair);
                continue;
            }
            if (!options.SkipBadLines) throw new CorpusFormatException(fileName, lineNumber, reason!);
            skipped++;
            if (problems.Count < MaxProblems) problems.Add($"{fileName}:{lineNumber}: {reason}");
        }
        return new TsvReadResult(pairs, skipped, problems);
    }

    private static (TextPair? Pair, string? Reason) ParseLine(ReadOnlySpan<byte> bytes, int maxLineLength)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return (null, "invalid UTF-8");
        }

        if (text.Length > maxLineLength) return (null, $"line longer than {maxLineLength} characters");
        var tab = text.IndexOf('\t');
        if (tab < 0) return (null, "no tab between source and target");
        if (text.IndexOf('\t', tab + 1) >= 0) return (null, "more than one tab");
        var source = text[..tab];
        var target = text[(tab + 1)..];
        if (string.IsNullOrWhiteSpace(source)) return (null, "empty source");
        if (string.IsNullOrWhiteSpace(target)) return (null, "empty target");
        return (new TextPair(source, target), null);
    }
}
