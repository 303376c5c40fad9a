using System.Text;
using Distributed.Models.Data;

namespace Distributed.Models.Tests.Data;

public sealed class TsvCorpusTests
{
    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] Bytes(params object[] parts) =>
        parts.SelectMany(p => p switch
        {
            string s => Utf8(s),
            byte[] b => b,
            _ => throw new ArgumentException("parts are strings or byte arrays"),
        }).ToArray();

    private static TsvReadResult Read(byte[] content, TsvReadOptions? options = null) =>
        TsvCorpus.Read(new MemoryStream(content), "data.tsv", options);

    public static TheoryData<byte[], string> BadFiles => new()
    {
        { Utf8("a\tb\nno tab here\n"), "data.tsv:2: no tab between source and target" },
        { Utf8("a\tb\tc\n"), "data.tsv:1: more than one tab" },
        { Utf8("x\ty\n\tb\n"), "data.tsv:2: empty source" },
        { Utf8(" \t\tb"), "data.tsv:1: more than one tab" },
        { Utf8("  \tb\n"), "data.tsv:1: empty source" },
        { Utf8("a\t\n"), "data.tsv:1: empty target" },
        { Utf8("a\t \t\r\n"), "data.tsv:1: more than one tab" },
        { Utf8("a\t  \r\n"), "data.tsv:1: empty target" },
        { Utf8("a\tb\n\nc\td\n"), "data.tsv:2: no tab between source and target" },
        { Utf8("\n"), "data.tsv:1: no tab between source and target" },
        { Utf8("a\tb\nc\td\nthe third line is far too long\tx\n"), "data.tsv:3: line longer than 20 characters" },
        // 0xFF never occurs in UTF-8.
        { Bytes("ok\tfine\n", "also\tfine\n", "bad", new byte[] { 0xFF }, "\tx\n"), "data.tsv:3: invalid UTF-8" },
        // 0xC0 0x80 is an overlong encoding of NUL.
        { Bytes("a\t", new byte[] { 0xC0, 0x80 }, "\n"), "data.tsv:1: invalid UTF-8" },
        // ED A0 80 would encode the lone surrogate U+D800.
        { Bytes("a\tb\n", "c\t", new byte[] { 0xED, 0xA0, 0x80 }), "data.tsv:2: invalid UTF-8" },
        // A multi-byte sequence cut off by the line end.
        { Bytes("a\tb\n", "c\td", new byte[] { 0xE2, 0x82 }, "\r\ne\tf\n"), "data.tsv:2: invalid UTF-8" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Bad_line_throws_with_file_line_and_reason(byte[] content, string message)
    {
        var e = Assert.Throws<CorpusFormatException>(() => Read(content, new TsvReadOptions { MaxLineLength = 20 }));
        Assert.Equal(message, e.Message);
        Assert.Equal("data.tsv", e.File);
        Assert.Equal($"data.tsv:{e.Line}: {e.Reason}", e.Message);
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Skipping_bad_lines_reports_the_same_problem(byte[] content, string message)
    {
        var result = Read(content, new TsvReadOptions { SkipBadLines = true, MaxLineLength = 20 });
        Assert.Equal(1, result.SkippedLines);
        Assert.Equal([message], result.Problems);
        Assert.All(result.Pairs, p => Assert.False(string.IsNullOrWhiteSpace(p.Source)));
    }

    [Fact]
    public void Reads_pairs_in_order_keeping_inner_spaces()
    {
        var result = Read(Utf8("hello world\tbonjour le monde\n357+48\t405\n"));
        Assert.Equal([new TextPair("hello world", "bonjour le monde"), new TextPair("357+48", "405")], result.Pairs);
        Assert.Equal(0, result.SkippedLines);
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void Final_newline_is_optional()
    {
        Assert.Equal(Read(Utf8("a\tb\nc\td")).Pairs, Read(Utf8("a\tb\nc\td\n")).Pairs);
        Assert.Equal(2, Read(Utf8("a\tb\nc\td\n")).Pairs.Count);
    }

    [Fact]
    public void Crlf_line_endings_are_stripped()
    {
        var result = Read(Utf8("a\tb\r\nc\td\r\n"));
        Assert.Equal([new TextPair("a", "b"), new TextPair("c", "d")], result.Pairs);
    }

    [Fact]
    public void Bom_is_stripped_on_the_first_line_only()
    {
        var result = Read(Bytes(new byte[] { 0xEF, 0xBB, 0xBF }, "x\ty\r\n", "z\tw\n"));
        Assert.Equal([new TextPair("x", "y"), new TextPair("z", "w")], result.Pairs);
    }

    [Fact]
    public void Non_ascii_text_is_decoded()
    {
        var result = Read(Utf8("café\t\U0001F600 ok\n"));
        Assert.Equal(new TextPair("café", "\U0001F600 ok"), Assert.Single(result.Pairs));
    }

    [Fact]
    public void Max_line_length_counts_characters_not_bytes()
    {
        // Ten characters, twenty bytes.
        var result = Read(Utf8("éééé\tééééé\n"), new TsvReadOptions { MaxLineLength = 10 });
        Assert.Single(result.Pairs);
        Assert.Throws<CorpusFormatException>(() => Read(Utf8("éééé\téééééé\n"), new TsvReadOptions { MaxLineLength = 10 }));
    }

    [Fact]
    public void Empty_file_has_no_pairs()
    {
        var result = Read([]);
        Assert.Empty(result.Pairs);
        Assert.Equal(0, result.SkippedLines);
    }

    [Fact]
    public void Skipping_counts_every_bad_line_but_lists_only_twenty()
    {
        var text = new StringBuilder("good\tline\n");
        for (var i = 0; i < 25; i++) text.Append("bad line\n");
        text.Append("last\tone\n");

        var result = Read(Utf8(text.ToString()), new TsvReadOptions { SkipBadLines = true });

        Assert.Equal([new TextPair("good", "line"), new TextPair("last", "one")], result.Pairs);
        Assert.Equal(25, result.SkippedLines);
        Assert.Equal(20, result.Problems.Count);
        Assert.Equal("data.tsv:2: no tab between source and target", result.Problems[0]);
        Assert.Equal("data.tsv:21: no tab between source and target", result.Problems[19]);
    }

    [Fact]
    public void Reads_a_file_from_disk_naming_its_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tsvcorpus-{Guid.NewGuid():N}.tsv");
        try
        {
            File.WriteAllBytes(path, Utf8("a\tb\nbroken\n"));
            var result = TsvCorpus.Read(path, new TsvReadOptions { SkipBadLines = true });
            Assert.Equal([new TextPair("a", "b")], result.Pairs);
            Assert.Equal([$"{path}:2: no tab between source and target"], result.Problems);

            var e = Assert.Throws<CorpusFormatException>(() => TsvCorpus.Read(path));
            Assert.Equal(path, e.File);
            Assert.Equal(2, e.Line);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Missing_file_names_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.tsv");
        var e = Assert.Throws<FileNotFoundException>(() => TsvCorpus.Read(path));
        Assert.Equal(path, e.FileName);
        Assert.Contains(path, e.Message);
    }
}
