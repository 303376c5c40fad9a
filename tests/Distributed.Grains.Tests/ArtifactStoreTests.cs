using Azure.Storage.Blobs;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Tests;

// One contract, two stores: the local directory and Azure Blob storage (a real Azurite), behaving alike.
[Collection(AzuriteCollection.Name)]
[Trait("Category", "Integration")]
public class ArtifactStoreTests(Azurite azurite) : IDisposable
{
    readonly string directory = Path.Combine(Path.GetTempPath(), $"distributed-store-{Guid.NewGuid():N}");

    IArtifactStore Store(string kind) => kind == "local"
        ? new LocalArtifactStore(directory)
        : new BlobArtifactStore(new BlobContainerClient(azurite.ConnectionString, $"artifacts-{Guid.NewGuid():N}"));

    [Theory]
    [InlineData("local")]
    [InlineData("blob")]
    public async Task Writes_reads_lists_and_deletes(string kind)
    {
        var store = Store(kind);
        Assert.Null(await store.ReadAsync("trials/t1/checkpoints/0000000010.ckpt"));
        var big = Enumerable.Range(0, 3_000_000).Select(i => (byte)(i * 7)).ToArray();
        await store.WriteAsync("trials/t1/checkpoints/0000000010.ckpt", big);
        await store.WriteAsync("trials/t1/checkpoints/0000000020.ckpt", new byte[] { 1, 2, 3 });
        await store.WriteAsync("trials/t2/checkpoints/0000000010.ckpt", new byte[] { 4 });
        await store.WriteAsync("trials/t1/checkpoints/0000000020.ckpt", new byte[] { 5, 6 });

        Assert.Equal(big, await store.ReadAsync("trials/t1/checkpoints/0000000010.ckpt"));
        Assert.Equal(new byte[] { 5, 6 }, await store.ReadAsync("trials/t1/checkpoints/0000000020.ckpt"));
        Assert.Equal(["trials/t1/checkpoints/0000000010.ckpt", "trials/t1/checkpoints/0000000020.ckpt"], await store.ListAsync("trials/t1/checkpoints/"));
        await store.DeleteAsync("trials/t1/checkpoints/0000000010.ckpt");
        await store.DeleteAsync("trials/t1/checkpoints/0000000010.ckpt");
        Assert.Equal(["trials/t1/checkpoints/0000000020.ckpt"], await store.ListAsync("trials/t1/"));
        Assert.Empty(await store.ListAsync("trials/t3/"));
        // How old an artifact is: what the orphan collector judges by.
        Assert.InRange((await store.WrittenAtAsync("trials/t2/checkpoints/0000000010.ckpt"))!.Value, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));
        Assert.Null(await store.WrittenAtAsync("trials/t1/checkpoints/0000000010.ckpt"));
    }

    [Theory]
    [InlineData("local")]
    [InlineData("blob")]
    public async Task Paths_that_leave_the_store_are_refused(string kind)
    {
        var store = Store(kind);
        foreach (var bad in new[] { "/etc/passwd", "trials/../../x", "./a" })
            await Assert.ThrowsAsync<ArgumentException>(() => store.WriteAsync(bad, new byte[] { 1 }));
    }

    [Fact]
    public async Task A_local_write_that_fails_leaves_the_old_content_and_no_temporary_file()
    {
        var store = new LocalArtifactStore(directory);
        await store.WriteAsync("trials/t/checkpoints/0000000010.ckpt", new byte[] { 1, 2, 3 });
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.WriteAsync("trials/t/checkpoints/0000000010.ckpt", new byte[1 << 20], cancelled.Token));
        Assert.Equal(new byte[] { 1, 2, 3 }, await store.ReadAsync("trials/t/checkpoints/0000000010.ckpt"));
        Assert.Empty(Directory.EnumerateFiles(directory, "*.tmp", SearchOption.AllDirectories));
    }

    public void Dispose()
    {
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
    }
}
