namespace Distributed.Grains.Storage;

/// <summary>
/// Replaces a local file whole: written aside, flushed to disk, then renamed over the old one. A reader never sees
/// half a file, a crash or power loss leaves the old content or the new, and a failed write leaves no temporary file.
/// </summary>
public static class AtomicFile
{
    public static async Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellation = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await file.WriteAsync(content, cancellation);
                // On disk before the rename makes it visible: after a power loss the name never points at a hole.
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}
