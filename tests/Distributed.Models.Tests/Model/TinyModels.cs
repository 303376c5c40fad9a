using Distributed.Models;
using Distributed.Models.Data;
using Distributed.Models.Network;
using Distributed.Models.Training;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Tests.Model;

/// <summary>Small models and data the model tests share, so each test reads as what it checks.</summary>
static class TinyModels
{
    public static readonly Vocabularies Digits = new(
        Vocabulary.FromTokens("0123456789".Select(c => c.ToString())),
        Vocabulary.FromTokens("0123456789".Select(c => c.ToString())),
        TokenizationKind.Character);

    public static ModelOptions Options(CellKind cell = CellKind.Lstm, AttentionKind attention = AttentionKind.Additive) => new()
    {
        Cell = cell, EmbeddingSize = 8, HiddenSize = 12, Attention = attention,
    };

    public static Seq2SeqModel Model(ModelOptions options, ulong seed = 7, int vocabulary = 14) =>
        new(options, vocabulary, vocabulary, seed);

    public static PreparedData Reverse(int examples, int minLength, int maxLength, ulong seed = 3) =>
        new DataOptions { Task = BuiltInTaskKind.Reverse, Examples = examples, MinLength = minLength, MaxLength = maxLength, Seed = seed }.Load();

    public static int[] Ids(string digits) => digits.Select(c => c - '0' + Vocabulary.Unk + 1).ToArray();

    public static float[] Values(Tensor t) => t.detach().contiguous().to(ScalarType.Float32).data<float>().ToArray();

    public static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"element {i}: expected {expected[i]}, got {actual[i]}");
    }
}
