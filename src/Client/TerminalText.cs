using System.Text;

namespace Distributed.Client;

/// <summary>
/// Text on its way to the user's terminal. Names, values and reasons come from specs, data and the cluster, and an
/// escape sequence or carriage return in them could rewrite the screen or hide a line: they are stripped here, the one
/// place that does it; the watch's own cursor movements alone go through <see cref="Raw"/>.
/// </summary>
public static class TerminalText
{
    /// <summary><paramref name="text"/> without control characters (ESC, CR, BEL, ...) or bidirectional overrides; line breaks kept only when asked.</summary>
    public static string Clean(string text, bool keepLineBreaks = false)
    {
        if (!text.Any(c => Unsafe(c, keepLineBreaks))) return text;
        var clean = new StringBuilder(text.Length);
        foreach (var c in text)
            if (!Unsafe(c, keepLineBreaks)) clean.Append(c);
        return clean.ToString();
    }

    static bool Unsafe(char c, bool keepLineBreaks) =>
        (char.IsControl(c) && !(keepLineBreaks && c == '\n')) || c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069';

    /// <summary>The writer under a cleaning one, for the escape codes the client writes on purpose.</summary>
    public static TextWriter Raw(TextWriter output) => output is Writer w ? w.Inner : output;

    /// <summary>Cleans everything written through it, keeping line breaks.</summary>
    public sealed class Writer(TextWriter inner) : TextWriter
    {
        public TextWriter Inner => inner;
        public override Encoding Encoding => inner.Encoding;
        public override void Write(char value)
        {
            if (!Unsafe(value, keepLineBreaks: true)) inner.Write(value);
        }
        public override void Write(string? value)
        {
            if (value is not null) inner.Write(Clean(value, keepLineBreaks: true));
        }
        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));
        public override void Flush() => inner.Flush();
    }
}
