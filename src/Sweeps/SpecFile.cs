using Distributed.Grains.Abstractions.Sweeps;
using System.Text;
using Distributed.Grains.Abstractions.Storage;

namespace Distributed.Sweeps;

/// <summary>
/// Reads a spec file of at most <see cref="SweepLimits.MaxSpecBytes"/>: a device (/dev/zero), a FIFO or a socket is
/// refused without being read, and a larger file without being read whole.
/// </summary>
public static class SpecFile
{
    public static string? Read(string path, out string problem)
    {
        problem = "";
        if (Directory.Exists(path))
        {
            problem = $"{path}: is a directory, not a spec file";
            return null;
        }
        if (!File.Exists(path))
        {
            problem = $"{path}: no such file";
            return null;
        }
        try
        {
            using var stream = Open(path, out problem);
            if (stream is null) return null;
            // One byte over the limit is enough to know the file is too large, whatever it claimed when opened.
            var buffer = new byte[SweepLimits.MaxSpecBytes + 1];
            int length = 0, read;
            while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0) length += read;
            if (length > SweepLimits.MaxSpecBytes)
            {
                problem = $"{path}: larger than {SweepLimits.MaxSpecBytes} bytes (1 MiB), the largest spec file";
                return null;
            }
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, length).TrimStart('\uFEFF');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DecoderFallbackException)
        {
            problem = $"{path}: cannot be read as UTF-8 text: {e.Message}";
            return null;
        }
    }

    static FileStream? Open(string path, out string problem)
    {
        var stream = LocalFile.Open(path, SweepLimits.MaxSpecBytes, out var why);
        problem = stream is not null ? "" : why.StartsWith("not a regular file", StringComparison.Ordinal)
            ? $"{path}: {why}; a spec is a YAML or JSON file"
            : $"{path}: {why} (1 MiB)";
        return stream;
    }
}
