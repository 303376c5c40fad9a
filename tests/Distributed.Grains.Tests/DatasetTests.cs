using System.Security.Cryptography;
using Distributed.Client;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Datasets;
using Distributed.Grains.Hosting;
using Distributed.Grains.Storage;
using Distributed.Models.Data;
using Distributed.Options;
using Distributed.Sweeps;

namespace Distributed.Grains.Tests;

// The files a sweep names travel with it into the cluster's artifact store: silos never need the user's files.
[Collection(SharedCluster.Name)]
[Trait("Category", "Integration")]
public sealed class DatasetTests(SharedClusterFixture fixture) : IDisposable
{
    readonly TrainingCluster cluster = fixture.Cluster;
    readonly string directory = Directory.CreateTempSubdirectory("distributed-datasets-").FullName;

    /// <summary>Random source words over a-h; each letter maps to one of <paramref name="alphabet"/> in the target.</summary>
    internal static string Corpus(string alphabet, int lines, int seed)
    {
        var random = new Random(seed);
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < lines; i++)
        {
            var source = new string(Enumerable.Range(0, random.Next(3, 7)).Select(_ => (char)('a' + random.Next(8))).ToArray());
            text.Append(source).Append('\t').Append(source.Select(c => alphabet[(c - 'a') % alphabet.Length]).ToArray()).Append('\n');
        }
        return text.ToString();
    }

    string Write(string name, string content)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    SweepSpec Read(string yaml)
    {
        var (spec, errors) = SweepSpecReader.Read(yaml, Path.Combine(directory, "spec.yaml"));
        Assert.Empty(errors);
        return spec!;
    }

    [Fact]
    public async Task A_sweep_trains_each_trial_on_its_uploaded_file_after_the_originals_are_gone()
    {
        Write("xyz.tsv", Corpus("xyz", 400, 1));
        Write("pqr.tsv", Corpus("pqr", 400, 2));
        var spec = Read("""
            data: { tsvPath: xyz.tsv }
            model: { embeddingSize: 16, hiddenSize: 32 }
            training: { batchSize: 16, learningRate: 0.01 }
            schedule: { steps: 120, evaluateEvery: 60, evaluationExamples: 20, checkpointEvery: 60 }
            search: { space: { tsvPath: [xyz.tsv, pqr.tsv] } }
            """);
        var datasets = SpecDatasets.Prepare(spec, directory);
        Assert.Equal(2, datasets.Files.Count);
        var log = new StringWriter();
        await datasets.UploadAsync(cluster.Client, log);
        Assert.Contains("uploaded xyz.tsv", log.ToString());
        var originals = datasets.Files.ToDictionary(f => f.Hash, f => File.ReadAllBytes(f.Path));
        Directory.Delete(directory, recursive: true);

        var sweep = cluster.Client.GetGrain<ISweepGrain>("datasets");
        await sweep.SubmitAsync(datasets.Spec);
        var status = await SweepTests.WaitAsync(sweep, TimeSpan.FromSeconds(120));

        Assert.All(status.Trials, t => Assert.Equal(TrialState.Completed, t.State));
        foreach (var (trial, alphabet) in status.Trials.Zip(["xyz", "pqr"]))
        {
            var trialSpec = (await cluster.Trial(trial.TrialId).GetSpecAsync())!;
            Assert.True(DatasetReference.TryParse(trialSpec.Data.TsvPath, out var hash));
            Assert.EndsWith($"/{alphabet}.tsv", trialSpec.Data.TsvPath);
            // Each silo's copy is the user's file, byte for byte.
            Assert.Equal(originals[hash], File.ReadAllBytes(Path.Combine(cluster.DataDirectory, "datasets", hash + ".tsv")));
            // The model's outputs come from its own file's target alphabet: it trained on that file.
            var prediction = await cluster.Trial(trial.TrialId).PredictAsync("abcdefgh", 1);
            Assert.NotEmpty(prediction.Output);
            Assert.All(prediction.Output, c => Assert.Contains(c, alphabet));
        }

        // Submitting the same files again uploads nothing.
        var again = new StringWriter();
        Directory.CreateDirectory(directory);
        Write("xyz.tsv", Corpus("xyz", 400, 1));
        await SpecDatasets.Prepare(Read("data: { tsvPath: xyz.tsv }"), directory).UploadAsync(cluster.Client, again);
        Assert.Contains("stored already", again.ToString());
    }

    [Fact]
    public async Task Datasets_are_listed_with_the_sweeps_naming_them_and_only_unneeded_ones_can_be_deleted()
    {
        Write("kept.tsv", Corpus("klm", 300, 7));
        var sparePath = Write("spare.tsv", Corpus("uvw", 300, 8));
        var kept = SpecDatasets.Prepare(Read("""
            data: { tsvPath: kept.tsv }
            model: { embeddingSize: 8, hiddenSize: 16 }
            training: { batchSize: 8 }
            schedule: { steps: 100000, evaluateEvery: 1000, evaluationExamples: 20, checkpointEvery: 1000 }
            """), directory);
        var spare = SpecDatasets.Prepare(Read("data: { tsvPath: spare.tsv }"), directory);
        await kept.UploadAsync(cluster.Client, TextWriter.Null);
        await spare.UploadAsync(cluster.Client, TextWriter.Null);
        string keptHash = kept.Files[0].Hash, spareHash = spare.Files[0].Hash;
        var sweep = cluster.Client.GetGrain<ISweepGrain>("catalog");
        await sweep.SubmitAsync(kept.Spec);
        var catalog = cluster.Client.GetGrain<IDatasetCatalogGrain>(0);
        try
        {
            var listed = (await catalog.ListAsync()).ToDictionary(d => d.Info.Hash);
            Assert.Equal(["kept.tsv"], listed[keptHash].Names);
            Assert.Equal(["catalog"], listed[keptHash].UnfinishedSweeps);
            Assert.Empty(listed[spareHash].Sweeps);
            Assert.Equal(new FileInfo(sparePath).Length, listed[spareHash].Info.Bytes);

            // A running sweep's dataset stays; the message says which sweep holds it.
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => catalog.DeleteAsync(keptHash[..8]));
            Assert.Contains("named by unfinished sweep catalog", refused.Message);
            var bad = await Assert.ThrowsAsync<ArgumentException>(() => catalog.DeleteAsync("xyz"));
            Assert.StartsWith("dataset: 'xyz' must be 6 to 64 lowercase hex digits", bad.Message);

            var deleted = await catalog.DeleteAsync(spareHash[..8]);
            Assert.Equal(spareHash, deleted.Info.Hash);
            Assert.DoesNotContain(await catalog.ListAsync(), d => d.Info.Hash == spareHash);
            Assert.Empty(await cluster.Store.ListAsync($"datasets/{spareHash}/"));
            Assert.Null(await cluster.Client.GetGrain<IDatasetGrain>(spareHash).GetAsync());
            var missing = await Assert.ThrowsAsync<ArgumentException>(() => catalog.DeleteAsync(spareHash));
            Assert.Contains($"no stored dataset's SHA-256 starts with {spareHash}", missing.Message);

            // Once its sweep is over, the dataset can go too, this silo's copy with it; the sweep keeps its results.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((await sweep.GetStatusAsync())!.Trials[0].Step < 1 && DateTime.UtcNow < deadline) await Task.Delay(100);
            Assert.True(File.Exists(Path.Combine(cluster.DataDirectory, "datasets", keptHash + ".tsv")));
            await sweep.CancelAsync();
            var gone = await catalog.DeleteAsync(keptHash);
            Assert.Equal(["catalog"], gone.Sweeps);
            Assert.False(File.Exists(Path.Combine(cluster.DataDirectory, "datasets", keptHash + ".tsv")));
            Assert.Equal(SweepState.Cancelled, (await sweep.GetStatusAsync())!.State);
        }
        finally
        {
            await sweep.CancelAsync();
        }
    }

    [Fact]
    public async Task A_file_of_several_parts_is_stored_whole_and_checked()
    {
        // Over two parts' worth, so the upload and the fetch each cross part boundaries.
        var path = Write("big.tsv", Corpus("xyz", 900_000, 3));
        Assert.True(new FileInfo(path).Length > 2 * DatasetReference.PartBytes);
        var datasets = SpecDatasets.Prepare(Read("data: { tsvPath: big.tsv }"), directory);
        await datasets.UploadAsync(cluster.Client, TextWriter.Null);

        var file = datasets.Files.Single();
        var info = await cluster.Client.GetGrain<IDatasetGrain>(file.Hash).GetAsync();
        Assert.Equal(new FileInfo(path).Length, info!.Bytes);
        Assert.Equal((int)((info.Bytes + DatasetReference.PartBytes - 1) / DatasetReference.PartBytes), info.Parts);
        var cache = new DatasetCache(cluster.Store, new TrainingSiloOptions { DataDir = Path.Combine(directory, "silo") });
        var local = await cache.LocaliseAsync(new DataOptions { TsvPath = file.Reference, SkipBadLines = true });
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(local.TsvPath!));
        Assert.True(local.SkipBadLines);
    }

    [Fact]
    public async Task A_stored_dataset_never_changes_through_the_catalog()
    {
        // Its own content: the cluster is shared with other tests.
        var content = System.Text.Encoding.UTF8.GetBytes($"ab\tba\n{Guid.NewGuid():N}\tx\n");
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
        var catalog = cluster.Client.GetGrain<IDatasetCatalogGrain>(0);
        Assert.Null(await catalog.FindAsync(hash));
        await catalog.UploadPartAsync(hash, 0, content);
        var info = await catalog.CompleteUploadAsync(hash, content.Length);
        Assert.Equal(hash, (await catalog.FindAsync(hash))!.Hash);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => catalog.UploadPartAsync(hash, 0, "evil\tlive\n"u8.ToArray()));
        Assert.Contains($"dataset {hash} is stored already, and a stored dataset never changes", refused.Message);
        Assert.Equal(info, await catalog.FindAsync(hash));
        await Assert.ThrowsAsync<ArgumentException>(() => catalog.UploadPartAsync("../../etc", 0, content));
    }

    [Fact]
    public async Task Parts_that_do_not_hash_to_the_key_are_refused_and_a_damaged_store_is_caught()
    {
        var grain = cluster.Client.GetGrain<IDatasetGrain>(Convert.ToHexStringLower(SHA256.HashData("right\tcontent\n"u8)));
        await grain.PutPartAsync(0, "wrong\tcontent\n"u8.ToArray());
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.CompleteAsync(14));
        Assert.Contains("not 14 bytes hashing to the key", refused.Message);
        Assert.Null(await grain.GetAsync());
        var outOfOrder = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.PutPartAsync(1, [1]));
        Assert.Contains("part 0 was expected", outOfOrder.Message);

        // A store whose part changed after upload: the silo refuses the copy, and drops the manifest so it is uploaded again.
        var store = new LocalArtifactStore(Path.Combine(directory, "store"));
        var content = "a\tb\nc\td\n"u8.ToArray();
        var hash = Convert.ToHexStringLower(SHA256.HashData(content));
        await store.WriteAsync(ArtifactPaths.DatasetPart(hash, 0), "a\tb\nc\tX\n"u8.ToArray());
        await store.WriteAsync(ArtifactPaths.DatasetManifest(hash), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new DatasetInfo(hash, content.Length, 1, DateTimeOffset.UtcNow)));
        var cache = new DatasetCache(store, new TrainingSiloOptions { DataDir = Path.Combine(directory, "silo") });
        var damaged = await Assert.ThrowsAsync<InvalidOperationException>(() => cache.LocaliseAsync(new DataOptions { TsvPath = DatasetReference.Format(hash, null) }));
        Assert.Contains($"dataset {hash} read from the artifact store", damaged.Message);
        Assert.Null(await store.ReadAsync(ArtifactPaths.DatasetManifest(hash)));
        Assert.Equal([DatasetReference.Format(hash, "x.tsv")], await cache.MissingAsync([DatasetReference.Format(hash, "x.tsv"), "local.tsv", null]));
    }

    [Fact]
    public async Task A_sweep_naming_a_dataset_the_cluster_lacks_is_refused_naming_the_field()
    {
        var spec = Read($"data: {{ tsvPath: 'dataset:{new string('0', 64)}/gone.tsv' }}");
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.GetGrain<ISweepGrain>("no-dataset").SubmitAsync(spec));
        Assert.Contains($"data.tsvPath: dataset:{new string('0', 64)}/gone.tsv is not in the cluster's artifact store", refused.Message);
        Assert.Null(await cluster.Client.GetGrain<ISweepGrain>("no-dataset").GetStatusAsync());
    }

    [Fact]
    public void Missing_files_and_bad_lines_are_reported_before_anything_connects()
    {
        Write("ok.tsv", Corpus("xyz", 10, 4));
        var missing = Assert.Throws<SpecException>(() => SpecDatasets.Prepare(Read("""
            data: { tsvPath: absent.tsv }
            search: { space: { tsvPath: [ok.tsv, other.tsv] } }
            """), directory));
        Assert.Equal([$"data.tsvPath: file not found: {Path.Combine(directory, "absent.tsv")} (relative paths are read from the spec file's directory)",
            $"search.space.tsvPath: file not found: {Path.Combine(directory, "other.tsv")} (relative paths are read from the spec file's directory)"], missing.Problems);

        // A search value that sets several data options at once has its tsvPath read and rewritten too.
        var maps = Assert.Throws<SpecException>(() => SpecDatasets.Prepare(Read("search: { space: { data: [{ tsvPath: ok.tsv, seed: 2 }, { tsvPath: gone.tsv }] } }"), directory));
        Assert.StartsWith($"search.space.data: file not found: {Path.Combine(directory, "gone.tsv")}", Assert.Single(maps.Problems));
        var rewritten = SpecDatasets.Prepare(Read("search: { space: { data: [{ tsvPath: ok.tsv, seed: 2 }] } }"), directory);
        var value = System.Text.Json.Nodes.JsonNode.Parse(rewritten.Spec.Search.Space.Single().Values.Single())!;
        Assert.Equal(rewritten.Files.Single().Reference, (string?)value["tsvPath"]);
        Assert.Equal("2", value["seed"]!.ToString());

        var bad = Write("bad.tsv", "a\tb\nno tab here\nc\td\n");
        var line = Assert.Throws<SpecException>(() => SpecDatasets.Prepare(Read("data: { tsvPath: bad.tsv }"), directory));
        Assert.StartsWith($"data.tsvPath: {bad}:2:", Assert.Single(line.Problems));
        // With skipBadLines the same file is fine: the spec's own reading options apply.
        Assert.Single(SpecDatasets.Prepare(Read("data: { tsvPath: bad.tsv, skipBadLines: true }"), directory).Files);
    }

    public void Dispose()
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }
}
