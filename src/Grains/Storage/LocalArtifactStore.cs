using Distributed.Grains.Abstractions.Storage;

namespace Distributed.Grains.Storage;

/// <summary>The artifact store over a local directory: the embedded default, and what every silo of one machine shares.</summary>
public sealed class LocalArtifactStore : IArtifactStore
{
    readonly string root;

    public LocalArtifactStore(string root)
    {
        this.root = Path.GetFullPath(root);
        Directory.CreateDirectory(this.root);
    }

    // Written whole or not at all: a reader never sees half a checkpoint, even if this process dies mid-write.
    public Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellation = default) =>
        AtomicFile.WriteAsync(Resolve(path), content, cancellation);

    public async Task<byte[]?> ReadAsync(string path, CancellationToken cancellation = default)
    {
        var target = Resolve(path);
        try
        {
            return await File.ReadAllBytesAsync(target, cancellation);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellation = default)
    {
        var directory = Resolve(prefix.Contains('/') ? prefix[..prefix.LastIndexOf('/')] : "");
        if (!Directory.Exists(directory)) return Task.FromResult<IReadOnlyList<string>>([]);
        IReadOnlyList<string> paths = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(p => p.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        return Task.FromResult(paths);
    }

    public Task DeleteAsync(string path, CancellationToken cancellation = default)
    {
        File.Delete(Resolve(path));
        return Task.CompletedTask;
    }

    public Task<DateTimeOffset?> WrittenAtAsync(string path, CancellationToken cancellation = default)
    {
        var target = Resolve(path);
        return Task.FromResult<DateTimeOffset?>(File.Exists(target) ? new DateTimeOffset(File.GetLastWriteTimeUtc(target), TimeSpan.Zero) : null);
    }

    string Resolve(string path)
    {
        if (path.StartsWith('/') || path.Split('/').Any(part => part is ".." or "."))
            throw new ArgumentException($"artifact path '{path}' must be relative and must not contain '.' or '..'", nameof(path));
        var full = Path.GetFullPath(Path.Combine(root, path));
        if (!full.StartsWith(root, StringComparison.Ordinal)) throw new ArgumentException($"artifact path '{path}' leaves the store", nameof(path));
        return full;
    }
}
