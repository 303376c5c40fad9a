using System.Globalization;

namespace Distributed.Silo;

/// <summary>
/// One cluster owns a local data directory at a time: its first silo (or a client's embedded silo) holds
/// <c>owner.lock</c> and writes where its gateway is, so a client pointed at the directory joins that cluster
/// instead of starting a second one over the same state files.
/// </summary>
public sealed class DataDirectoryOwner : IDisposable
{
    readonly FileStream lockFile;
    readonly string gatewayFile;

    DataDirectoryOwner(FileStream lockFile, string gatewayFile)
    {
        this.lockFile = lockFile;
        this.gatewayFile = gatewayFile;
    }

    /// <summary>The owner's gateway as the owner wrote it.</summary>
    public sealed record Gateway(int Port, string ClusterId, string ServiceId);

    /// <summary>Takes the directory, or returns null when another process holds it.</summary>
    public static DataDirectoryOwner? TryTake(string directory)
    {
        Directory.CreateDirectory(directory);
        try
        {
            // FileShare.None is an exclusive advisory lock on Linux; it goes with the process however it ends.
            var stream = new FileStream(Path.Combine(directory, "owner.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            var gateway = Path.Combine(directory, "owner.gateway");
            File.Delete(gateway);
            return new DataDirectoryOwner(stream, gateway);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Tells other processes where this cluster's gateway is (once it is up).</summary>
    public void Publish(Gateway gateway) =>
        File.WriteAllText(gatewayFile, string.Create(CultureInfo.InvariantCulture, $"{gateway.Port} {gateway.ClusterId} {gateway.ServiceId}"));

    /// <summary>The gateway the directory's owner published, or null while it has not (yet).</summary>
    public static Gateway? Read(string directory)
    {
        var path = Path.Combine(directory, "owner.gateway");
        try
        {
            var parts = File.ReadAllText(path).Split(' ');
            return parts.Length == 3 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var port) ? new Gateway(port, parts[1], parts[2]) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        try { File.Delete(gatewayFile); } catch (IOException) { }
        lockFile.Dispose();
    }
}
