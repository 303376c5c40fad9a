using Distributed.Options;
namespace Distributed.Models.Data;

/// <summary>A pair as token ids, without BOS/EOS (the batcher adds them).</summary>
public sealed record EncodedExample(int[] Source, int[] Target);

/// <summary>Both vocabularies and how text is split into tokens: everything needed to turn text into ids and back.</summary>
public sealed record Vocabularies(Vocabulary Source, Vocabulary Target, TokenizationKind Tokenization)
{
    public int[] EncodeSource(string text) => Source.Encode(Tokenizer.Split(text, Tokenization));
    public int[] EncodeTarget(string text) => Target.Encode(Tokenizer.Split(text, Tokenization));
    public string DecodeTarget(IEnumerable<int> ids) => Tokenizer.Join(Target.Decode(ids), Tokenization);

    public void WriteTo(BinaryWriter writer)
    {
        writer.Write((int)Tokenization);
        Source.WriteTo(writer);
        Target.WriteTo(writer);
    }

    public static Vocabularies ReadFrom(BinaryReader reader)
    {
        var kind = (TokenizationKind)reader.ReadInt32();
        return new Vocabularies(Vocabulary.ReadFrom(reader), Vocabulary.ReadFrom(reader), kind);
    }
}

/// <summary>Train/valid/test examples as ids, with vocabularies built from the training split only.</summary>
public sealed record PreparedData(Vocabularies Vocabularies, IReadOnlyList<EncodedExample> Train, IReadOnlyList<EncodedExample> Valid,
    IReadOnlyList<EncodedExample> Test)
{
    public static PreparedData From(SplitCorpus split, TokenizationKind tokenization, int? maxVocabulary = null)
    {
        var trainTokens = split.Train.Select(p => (Tokenizer.Split(p.Source, tokenization), Tokenizer.Split(p.Target, tokenization))).ToList();
        // The most frequent tokens up to the cap; the rest read as UNK, so a word corpus cannot size the output layer at will.
        var source = Vocabulary.Build(trainTokens.Select(t => (IReadOnlyList<string>)t.Item1), maxSize: maxVocabulary);
        var target = Vocabulary.Build(trainTokens.Select(t => (IReadOnlyList<string>)t.Item2), maxSize: maxVocabulary);
        var vocabularies = new Vocabularies(source, target, tokenization);
        IReadOnlyList<EncodedExample> Encode(IReadOnlyList<TextPair> pairs) =>
            pairs.Select(p => new EncodedExample(vocabularies.EncodeSource(p.Source), vocabularies.EncodeTarget(p.Target))).ToList();
        return new PreparedData(vocabularies, Encode(split.Train), Encode(split.Valid), Encode(split.Test));
    }
}
