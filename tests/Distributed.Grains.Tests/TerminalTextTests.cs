using Distributed.Client;

namespace Distributed.Grains.Tests;

// Names, values and reasons from specs and the cluster reach the terminal without escape codes or carriage returns.
public class TerminalTextTests
{
    [Theory]
    [InlineData("\u001b[2J\u001b[31mowned", "[2J[31mowned")]
    [InlineData("ok\rFAKE", "okFAKE")]
    [InlineData("bell\u0007 and \u009b csi", "bell and  csi")]
    [InlineData("line\nbreak", "linebreak")]
    [InlineData("tab\there", "tabhere")]
    [InlineData("rtl \u202Eevil\u202C done", "rtl evil done")]
    [InlineData("layers=2 dropout=0.1 µ ü", "layers=2 dropout=0.1 µ ü")]
    public void Clean_strips_control_characters_and_keeps_the_text(string text, string expected) =>
        Assert.Equal(expected, TerminalText.Clean(text));

    [Fact]
    public void The_writer_keeps_line_breaks_and_the_raw_writer_passes_the_watch_cursor_codes()
    {
        var inner = new StringWriter();
        var writer = new TerminalText.Writer(inner);
        writer.WriteLine("trial 1: \u001b[31mred\r");
        writer.Write('\u001b');
        TerminalText.Raw(writer).Write("\u001b[2A");
        Assert.Equal("trial 1: [31mred" + Environment.NewLine + "\u001b[2A", inner.ToString());
    }

    [Fact]
    public void A_table_cell_cannot_break_the_table()
    {
        var table = new TextTable("factor\u001b[1m", "value");
        table.Add("a\nb", "\u001b[31mx");
        var output = new StringWriter();
        table.WriteTo(output);
        Assert.Equal(["factor[1m  value", "ab         [31mx"], output.ToString().TrimEnd().Split(Environment.NewLine));
    }
}
