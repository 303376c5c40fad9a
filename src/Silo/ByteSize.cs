using System.Globalization;

namespace Distributed.Silo;

/// <summary>Reads sizes as operators write them: 4GiB, 512MiB, 2G, 1.5 GiB, or plain bytes.</summary>
public static class ByteSize
{
    static readonly (string Suffix, long Factor)[] Units =
    [
        ("TiB", 1L << 40), ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
        ("T", 1L << 40), ("G", 1L << 30), ("M", 1L << 20), ("K", 1L << 10), ("B", 1),
    ];

    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        text = text.Trim();
        long factor = 1;
        foreach (var (suffix, f) in Units)
        {
            if (!text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) continue;
            text = text[..^suffix.Length].TrimEnd();
            factor = f;
            break;
        }
        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)) return false;
        double value = number * factor;
        if (value >= long.MaxValue) return false;
        bytes = (long)value;
        return true;
    }
}
