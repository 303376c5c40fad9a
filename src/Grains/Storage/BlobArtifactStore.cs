using Azure;
using Azure.Storage.Blobs;
using Distributed.Grains.Abstractions.Storage;

namespace Distributed.Grains.Storage;

/// <summary>
/// The artifact store over an Azure Blob container: what silos on several machines share. A blob upload is
/// all-or-nothing, so a reader never sees half a checkpoint.
/// </summary>
public sealed class BlobArtifactStore(BlobContainerClient container) : IArtifactStore
{
    readonly Lazy<Task> created = new(() => container.CreateIfNotExistsAsync());

    public async Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellation = default)
    {
        await created.Value;
        await container.GetBlobClient(Checked(path)).UploadAsync(BinaryData.FromBytes(content), overwrite: true, cancellation);
    }

    public async Task<byte[]?> ReadAsync(string path, CancellationToken cancellation = default)
    {
        await created.Value;
        try
        {
            var result = await container.GetBlobClient(Checked(path)).DownloadContentAsync(cancellation);
            return result.Value.Content.ToArray();
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellation = default)
    {
        await created.Value;
        var names = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, prefix, cancellation)) names.Add(blob.Name);
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public async Task DeleteAsync(string path, CancellationToken cancellation = default)
    {
        await created.Value;
        await container.GetBlobClient(Checked(path)).DeleteIfExistsAsync(cancellationToken: cancellation);
    }

    public async Task<DateTimeOffset?> WrittenAtAsync(string path, CancellationToken cancellation = default)
    {
        await created.Value;
        try
        {
            return (await container.GetBlobClient(Checked(path)).GetPropertiesAsync(cancellationToken: cancellation)).Value.LastModified;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    // The same paths as the local store accepts, so an artifact's path means the same thing in both.
    static string Checked(string path)
    {
        if (path.Length == 0 || path.StartsWith('/') || path.Split('/').Any(part => part is "" or ".." or "."))
            throw new ArgumentException($"artifact path '{path}' must be relative and must not contain '.', '..' or empty parts", nameof(path));
        return path;
    }
}
