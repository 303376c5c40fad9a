using Distributed.Options;
namespace Distributed.Models.Data;

/// <summary>Turns data options into the split, encoded examples every replica trains on.</summary>
public static class DataLoading
{
    /// <summary>Reads or generates, splits and encodes. Bad TSV lines raise <see cref="CorpusFormatException"/> unless skipped.</summary>
    public static PreparedData Load(this DataOptions options)
    {
        OptionErrors.EnsureValid(options, options.Validate());
        IReadOnlyList<TextPair> pairs;
        if (options.TsvPath is not null)
        {
            if (DatasetReference.IsReference(options.TsvPath))
                throw new ArgumentException($"data.tsvPath: {options.TsvPath} names a dataset in a cluster's store; a silo turns it into a local file first");
            pairs = TsvCorpus.Read(options.TsvPath, new TsvReadOptions { SkipBadLines = options.SkipBadLines, MaxLineLength = options.MaxLineLength }).Pairs;
            if (pairs.Count < 2) throw new ArgumentException($"data.tsvPath: {options.TsvPath} has {pairs.Count} usable lines; at least 2 are needed");
        }
        else
        {
            pairs = BuiltInTasks.Generate(options.Task, options.Examples, options.MinLength, options.MaxLength, options.Seed);
        }
        return PreparedData.From(DatasetSplitter.Split(pairs, options.ValidFraction, options.TestFraction, options.Seed), options.Tokenization, options.MaxVocabulary);
    }
}
