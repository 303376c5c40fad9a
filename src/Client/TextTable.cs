namespace Distributed.Client;

/// <summary>Columns padded to their widest cell; numbers right-aligned.</summary>
public sealed class TextTable(params string[] headers)
{
    readonly List<string[]> rows = [];
    readonly string[] heads = Array.ConvertAll(headers, h => TerminalText.Clean(h));

    // A line break or escape code inside a cell would break the table's lines, so cells are cleaned one by one.
    public void Add(params string[] cells) => rows.Add(cells.Select(c => TerminalText.Clean(c)).ToArray());

    public void WriteTo(TextWriter output)
    {
        var all = rows.Prepend(heads).ToList();
        var widths = Enumerable.Range(0, heads.Length).Select(c => all.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        bool[] numeric = Enumerable.Range(0, heads.Length)
            .Select(c => rows.Count > 0 && rows.All(r => c >= r.Length || r[c].Length == 0 || double.TryParse(r[c].TrimEnd('%', 's'), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)))
            .ToArray();
        foreach (var row in all)
            output.WriteLine(string.Join("  ", row.Select((cell, c) => numeric[c] && row != heads ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd());
    }
}
