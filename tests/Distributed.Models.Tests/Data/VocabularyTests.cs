using Distributed.Models.Data;

namespace Distributed.Models.Tests.Data;

public sealed class VocabularyTests
{
    private static IReadOnlyList<string>[] Corpus() =>
    [
        ["b", "a", "c", "b"],
        ["d", "a", "b", "d"],
        ["a", "B"],
    ];

    [Fact]
    public void Specials_come_first_with_fixed_ids()
    {
        var vocabulary = Vocabulary.FromTokens([]);
        Assert.Equal(["<pad>", "<bos>", "<eos>", "<unk>"], vocabulary.Tokens);
        Assert.Equal(Vocabulary.Pad, vocabulary.Id("<pad>"));
        Assert.Equal(Vocabulary.Bos, vocabulary.Id("<bos>"));
        Assert.Equal(Vocabulary.Eos, vocabulary.Id("<eos>"));
        Assert.Equal(Vocabulary.Unk, vocabulary.Id("<unk>"));
        Assert.Equal(4, vocabulary.Count);
    }

    [Fact]
    public void Build_orders_by_descending_frequency_then_ordinal()
    {
        // a:3, b:3, d:2, B:1, c:1; "B" sorts before "c" ordinally.
        var vocabulary = Vocabulary.Build(Corpus());
        Assert.Equal(["<pad>", "<bos>", "<eos>", "<unk>", "a", "b", "d", "B", "c"], vocabulary.Tokens);
        Assert.Equal(Vocabulary.Build(Corpus()).Tokens, vocabulary.Tokens);
    }

    [Fact]
    public void Build_applies_min_frequency_and_max_size()
    {
        Assert.Equal(["a", "b", "d"], Vocabulary.Build(Corpus(), minFrequency: 2).Tokens.Skip(4));
        Assert.Equal(["a", "b"], Vocabulary.Build(Corpus(), maxSize: 2).Tokens.Skip(4));
        Assert.Equal(4, Vocabulary.Build(Corpus(), maxSize: 0).Count);
    }

    [Fact]
    public void Build_does_not_duplicate_special_spellings()
    {
        var vocabulary = Vocabulary.Build([["<eos>", "x", "<unk>"]]);
        Assert.Equal(["<pad>", "<bos>", "<eos>", "<unk>", "x"], vocabulary.Tokens);
    }

    [Fact]
    public void FromTokens_keeps_order_and_rejects_duplicates()
    {
        var vocabulary = Vocabulary.FromTokens(["z", "y", "x"]);
        Assert.Equal(4, vocabulary.Id("z"));
        Assert.Equal(6, vocabulary.Id("x"));

        var duplicate = Assert.Throws<ArgumentException>(() => Vocabulary.FromTokens(["z", "y", "z"]));
        Assert.Contains("\"z\"", duplicate.Message);
        Assert.Throws<ArgumentException>(() => Vocabulary.FromTokens(["<bos>"]));
    }

    [Fact]
    public void Encode_maps_unknown_tokens_to_unk()
    {
        var vocabulary = Vocabulary.FromTokens(["a", "b"]);
        Assert.Equal([4, 5, Vocabulary.Unk, 4], vocabulary.Encode(["a", "b", "q", "a"]));
        Assert.Equal(Vocabulary.Unk, vocabulary.Id("A"));
    }

    [Fact]
    public void Decode_stops_at_eos_and_skips_pad_and_bos()
    {
        var vocabulary = Vocabulary.FromTokens(["a", "b"]);
        int[] ids = [Vocabulary.Bos, 4, Vocabulary.Pad, 5, Vocabulary.Unk, Vocabulary.Eos, 4, 5];
        Assert.Equal(["a", "b", "<unk>"], vocabulary.Decode(ids));
        Assert.Empty(vocabulary.Decode([Vocabulary.Eos, 4]));
    }

    [Fact]
    public void Decode_and_Token_reject_unknown_ids()
    {
        var vocabulary = Vocabulary.FromTokens(["a"]);
        Assert.Throws<ArgumentOutOfRangeException>(() => vocabulary.Decode([4, 5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => vocabulary.Decode([-1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => vocabulary.Token(5));
        // An unknown id after Eos is never looked at.
        Assert.Equal(["a"], vocabulary.Decode([4, Vocabulary.Eos, 99]));
    }

    [Fact]
    public void Binary_round_trip_is_exact()
    {
        var original = Vocabulary.FromTokens(["the", "\U0001F600", "", "tab\there", "É"]);
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            original.WriteTo(writer);
            writer.Write(12345);
        }
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer);
        var restored = Vocabulary.ReadFrom(reader);

        Assert.Equal(original.Tokens, restored.Tokens);
        Assert.Equal(original.Count, restored.Count);
        Assert.Equal(6, restored.Id(""));
        // The reader stops exactly where the vocabulary ends.
        Assert.Equal(12345, reader.ReadInt32());
    }

    [Fact]
    public void ReadFrom_rejects_data_that_is_not_a_vocabulary()
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(99);
            writer.Write(4);
        }
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer);
        Assert.Throws<InvalidDataException>(() => Vocabulary.ReadFrom(reader));
    }
}
