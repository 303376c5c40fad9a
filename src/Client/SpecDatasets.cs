using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Models.Data;
using Distributed.Options;
using Distributed.Sweeps;

namespace Distributed.Client;

/// <summary>A TSV file a sweep names: where it is here, and the SHA-256 the cluster knows it by.</summary>
public sealed record LocalDataset(string Path, string Hash, long Bytes)
{
    public string Reference => DatasetReference.Format(Hash, System.IO.Path.GetFileName(Path));
}

/// <summary>
/// The files a sweep spec names in <c>data.tsvPath</c> (its own and its search space's): checked and hashed before
/// anything connects, uploaded into the cluster's artifact store on submit, and named in the submitted spec by
/// their hash, so every silo trains on exactly the bytes the user had, wherever it runs.
/// </summary>
public sealed class SpecDatasets
{
    const string TsvPath = "data.tsvPath";

    SpecDatasets(SweepSpec spec, IReadOnlyList<LocalDataset> files)
    {
        Spec = spec;
        Files = files;
    }

    /// <summary>The spec to submit: each file path replaced by its dataset reference.</summary>
    public SweepSpec Spec { get; }
    public IReadOnlyList<LocalDataset> Files { get; }

    /// <summary>
    /// Finds, reads and hashes every file; relative paths are read from <paramref name="specDirectory"/>.
    /// Every missing file and bad line is one problem of a <see cref="SpecException"/>, naming the field, the file and the line.
    /// </summary>
    public static SpecDatasets Prepare(SweepSpec spec, string specDirectory)
    {
        var files = new Dictionary<string, LocalDataset>(StringComparer.Ordinal);
        var problems = new List<string>();
        var read = new TsvReadOptions { SkipBadLines = spec.Data.SkipBadLines, MaxLineLength = spec.Data.MaxLineLength };

        string? Local(string field, string? path)
        {
            if (path is null || DatasetReference.IsReference(path)) return path;
            var full = Path.GetFullPath(path, specDirectory);
            if (!files.TryGetValue(full, out var file))
            {
                if (!File.Exists(full))
                {
                    problems.Add($"{field}: file not found: {full} (relative paths are read from the spec file's directory)");
                    return path;
                }
                if (LocalFile.Problem(full, DatasetReference.MaxBytes) is { } problem)
                {
                    problems.Add($"{field}: {full}: {problem} (a dataset is at most {DatasetReference.MaxBytes >> 30} GiB)");
                    return path;
                }
                try
                {
                    var pairs = TsvCorpus.Read(full, read).Pairs.Count;
                    if (pairs < 2) problems.Add($"{field}: {full} has {pairs} usable lines; at least 2 are needed");
                }
                catch (CorpusFormatException e)
                {
                    problems.Add($"{field}: {e.Message}");
                }
                files[full] = file = new LocalDataset(full, HashOf(full), new FileInfo(full).Length);
            }
            return file.Reference;
        }

        var data = spec.Data with { TsvPath = Local(TsvPath, spec.Data.TsvPath) };
        var space = spec.Search.Space.Select(d => d.Kind != DimensionKind.Values ? d : d with
        {
            Values = d.Values.Select(v => Rewrite(d.Path, v, $"search.space.{d.Key}", Local)).ToList(),
        }).ToList();
        if (problems.Count > 0) throw new SpecException(problems);
        return new SpecDatasets(spec with { Data = data, Search = spec.Search with { Space = space } }, files.Values.ToList());
    }

    /// <summary>Stores each file the cluster does not have yet, in order-checked parts.</summary>
    public async Task UploadAsync(IGrainFactory grains, TextWriter log)
    {
        foreach (var file in Files)
        {
            var catalog = grains.GetGrain<IDatasetCatalogGrain>(0);
            if (await catalog.FindAsync(file.Hash) is not null)
            {
                log.WriteLine($"dataset {Path.GetFileName(file.Path)} is stored already ({file.Reference})");
                continue;
            }
            try
            {
                await SendAsync(catalog, file);
            }
            catch (InvalidOperationException)
            {
                // The receiving grain moved mid-upload (a silo left): its parts are kept, the running hash is not.
                await SendAsync(catalog, file);
            }
            log.WriteLine($"uploaded {Path.GetFileName(file.Path)}: {file.Bytes:N0} bytes as {file.Reference}");
        }
    }

    static async Task SendAsync(IDatasetCatalogGrain catalog, LocalDataset file)
    {
        await using var stream = File.OpenRead(file.Path);
        var buffer = new byte[DatasetReference.PartBytes];
        for (int part = 0; ; part++)
        {
            int length = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false);
            if (length == 0 && part > 0) break;
            await catalog.UploadPartAsync(file.Hash, part, buffer[..length]);
            if (length < buffer.Length) break;
        }
        await catalog.CompleteUploadAsync(file.Hash, file.Bytes);
    }

    /// <summary>A search value with every <c>data.tsvPath</c> inside it (a path, or a map of data options) rewritten.</summary>
    static string Rewrite(string path, string json, string field, Func<string, string?, string?> local)
    {
        var node = JsonNode.Parse(json);
        bool changed = false;

        JsonNode? Walk(string at, JsonNode? value)
        {
            if (value is JsonObject map)
            {
                foreach (var (name, child) in map.ToList())
                    map[name] = Walk($"{at}.{name}", child?.DeepClone());
                return map;
            }
            if (string.Equals(at, TsvPath, StringComparison.OrdinalIgnoreCase) && value is JsonValue v && v.TryGetValue<string>(out var text))
            {
                var replaced = local(field, text);
                changed |= replaced != text;
                return JsonValue.Create(replaced);
            }
            return value;
        }

        var result = Walk(path, node);
        return changed ? result!.ToJsonString() : json;
    }

    static string HashOf(string path)
    {
        using var file = File.OpenRead(path);
        return DatasetReference.HashOf(file);
    }
}
