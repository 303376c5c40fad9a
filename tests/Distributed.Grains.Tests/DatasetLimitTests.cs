using System.Text;
using Distributed.Client;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Datasets;
using Distributed.Grains.Hosting;
using Distributed.Models.Data;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Distributed.Options;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Tests;

// Datasets are bounded where they enter (submit and the receiving grain) and where they are kept (each silo's cache).
[Trait("Category", "Integration")]
public sealed class DatasetLimitTests
{
    [Fact]
    public async Task The_receiving_grain_refuses_parts_and_sizes_past_the_largest_dataset()
    {
        await using var cluster = await TrainingCluster.StartAsync(1);
        var grain = cluster.Client.GetGrain<IDatasetGrain>(new string('a', 64));
        int lastPart = (int)(DatasetReference.MaxBytes / DatasetReference.PartBytes);
        var beyond = await Assert.ThrowsAsync<ArgumentException>(() => grain.PutPartAsync(lastPart, new byte[16]));
        Assert.Contains("past 1024 MiB", beyond.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => grain.PutPartAsync(-1, new byte[16]));
        var claimed = await Assert.ThrowsAsync<ArgumentException>(() => grain.CompleteAsync(DatasetReference.MaxBytes + 1));
        Assert.Contains("bytes; 1..", claimed.Message);
        Assert.Empty(await cluster.Store.ListAsync(ArtifactPaths.Datasets));
    }

    [Fact]
    public void Submit_refuses_a_device_and_a_file_past_the_cap_before_reading_them()
    {
        var directory = Directory.CreateTempSubdirectory("distributed-dataset-limits-").FullName;
        try
        {
            var fifo = Path.Combine(directory, "pipe.tsv");
            System.Diagnostics.Process.Start("mkfifo", fifo).WaitForExit();
            foreach (var (path, expected) in new[] { ("/dev/zero", "not a regular file"), (fifo, "not a regular file") })
            {
                var spec = new SweepSpec { Data = new DataOptions { TsvPath = path } };
                var e = Assert.Throws<SpecException>(() => SpecDatasets.Prepare(spec, directory));
                Assert.Contains($"data.tsvPath: {path}: {expected}", string.Join("\n", e.Problems));
            }
            var big = Path.Combine(directory, "big.tsv");
            using (var file = File.Create(big)) file.SetLength(DatasetReference.MaxBytes + 1);
            var tooBig = Assert.Throws<SpecException>(() => SpecDatasets.Prepare(new SweepSpec { Data = new DataOptions { TsvPath = big } }, directory));
            Assert.Contains("1073741825 bytes; at most 1073741824 (a dataset is at most 1 GiB)", string.Join("\n", tooBig.Problems));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_silos_cache_evicts_copies_no_replica_holds_and_refuses_what_cannot_fit()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"distributed-tests-{Guid.NewGuid():N}");
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) => silo.AddDistributedTraining(new() { DataDir = directory, DatasetCache = 1 << 20 }));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            var cache = cluster.Silos[0].ServiceProvider.GetRequiredService<DatasetCache>();
            // Four datasets of 400 KB each: two fit in the 1 MiB cache at a time.
            var references = new List<string>();
            for (int i = 0; i < 4; i++) references.Add(await UploadAsync(cluster.Client, Encoding.UTF8.GetBytes(DatasetTests.Corpus("xyz", 60_000, i))[..400_000]));
            string Copy(string reference) => Path.Combine(directory, "datasets", reference["dataset:".Length..] + ".tsv");

            await cache.LocaliseAsync(new DataOptions { TsvPath = references[0] }, "held/0");
            await cache.LocaliseAsync(new DataOptions { TsvPath = references[1] }, "done/0");
            cache.Release("done/0");
            await cache.LocaliseAsync(new DataOptions { TsvPath = references[2] }, "held/1");
            Assert.True(File.Exists(Copy(references[0])), "a copy a replica holds was evicted");
            Assert.False(File.Exists(Copy(references[1])), "the released copy was kept past the cap");
            Assert.True(File.Exists(Copy(references[2])));

            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => cache.LocaliseAsync(new DataOptions { TsvPath = references[3] }, "new/0"));
            Assert.Contains("does not fit in this silo's dataset cache (1,048,576 bytes, --dataset-cache)", refused.Message);
            cache.Release("held/0");
            var fetched = await cache.LocaliseAsync(new DataOptions { TsvPath = references[3] }, "new/0");
            Assert.True(File.Exists(fetched.TsvPath));
            Assert.False(File.Exists(Copy(references[0])));
        }
        finally
        {
            await cluster.DisposeAsync();
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }

    static async Task<string> UploadAsync(IClusterClient client, byte[] content)
    {
        var hash = DatasetReference.HashOf(new MemoryStream(content));
        var grain = client.GetGrain<IDatasetGrain>(hash);
        await grain.PutPartAsync(0, content);
        await grain.CompleteAsync(content.Length);
        return DatasetReference.Format(hash, null);
    }
}
