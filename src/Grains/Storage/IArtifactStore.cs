namespace Distributed.Grains.Storage;

/// <summary>
/// Where checkpoints and result documents live: a local directory here, Azure Blob storage in a cluster. Paths
/// are relative, '/'-separated ("trials/t1/checkpoints/00000100.ckpt"); a write is all-or-nothing.
/// </summary>
public interface IArtifactStore
{
    Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellation = default);
    /// <summary>The content, or null when there is no such artifact.</summary>
    Task<byte[]?> ReadAsync(string path, CancellationToken cancellation = default);
    /// <summary>Paths under <paramref name="prefix"/>, in ordinal order.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellation = default);
    Task DeleteAsync(string path, CancellationToken cancellation = default);
    /// <summary>When the artifact was last written, or null when there is no such artifact: how old an orphan is.</summary>
    Task<DateTimeOffset?> WrittenAtAsync(string path, CancellationToken cancellation = default);
}
