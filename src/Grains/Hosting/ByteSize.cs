using System.ComponentModel;
using System.Globalization;

namespace Distributed.Grains.Hosting;

/// <summary>
/// A number of bytes as operators write it: 4GiB, 512MiB, 2G, 1.5 GiB, or plain bytes. Its type converter lets
/// configuration binding read those forms from the command line, the environment and settings files.
/// </summary>
[TypeConverter(typeof(ByteSizeConverter))]
public readonly record struct ByteSize(long Bytes)
{
    static readonly (string Suffix, long Factor)[] Units =
    [
        ("TiB", 1L << 40), ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
        ("T", 1L << 40), ("G", 1L << 30), ("M", 1L << 20), ("K", 1L << 10), ("B", 1),
    ];

    public static implicit operator ByteSize(long bytes) => new(bytes);
    public static implicit operator long(ByteSize size) => size.Bytes;

    public static bool TryParse(string text, out ByteSize size)
    {
        size = default;
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
        size = new((long)value);
        return true;
    }

    /// <summary>The largest binary unit that divides it exactly: 8GiB, 1536MiB, 100.</summary>
    public override string ToString()
    {
        foreach (var (suffix, factor) in Units.Take(4))
            if (Bytes != 0 && Bytes % factor == 0) return $"{Bytes / factor}{suffix}";
        return Bytes.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>Converts the written forms <see cref="ByteSize.TryParse"/> accepts.</summary>
public sealed class ByteSizeConverter : TypeConverter
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) =>
        sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string text
            ? ByteSize.TryParse(text, out var size) ? size : throw new FormatException($"'{text}' is not a size (bytes, or a number with KiB, MiB, GiB, TiB)")
            : base.ConvertFrom(context, culture, value);
}
