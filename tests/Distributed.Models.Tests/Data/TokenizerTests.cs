using Distributed.Models.Data;
using Distributed.Options;

namespace Distributed.Models.Tests.Data;

public sealed class TokenizerTests
{
    [Fact]
    public void Character_split_keeps_surrogate_pairs_whole()
    {
        // U+1F600 is one scalar value but two UTF-16 code units.
        var tokens = Tokenizer.Split("a\U0001F600é b", TokenizationKind.Character);
        Assert.Equal(["a", "\U0001F600", "é", " ", "b"], tokens);
        Assert.Equal("a\U0001F600é b", Tokenizer.Join(tokens, TokenizationKind.Character));
    }

    [Fact]
    public void Word_split_drops_whitespace_runs()
    {
        var tokens = Tokenizer.Split("  the\tcat \n sat  ", TokenizationKind.Word);
        Assert.Equal(["the", "cat", "sat"], tokens);
        Assert.Equal("the cat sat", Tokenizer.Join(tokens, TokenizationKind.Word));
    }

    [Theory]
    [InlineData(TokenizationKind.Character)]
    [InlineData(TokenizationKind.Word)]
    public void Empty_text_has_no_tokens(TokenizationKind kind)
    {
        Assert.Empty(Tokenizer.Split("", kind));
        Assert.Equal("", Tokenizer.Join([], kind));
    }

    [Fact]
    public void Whitespace_only_text_has_no_words()
    {
        Assert.Empty(Tokenizer.Split(" \t\r\n ", TokenizationKind.Word));
    }
}
