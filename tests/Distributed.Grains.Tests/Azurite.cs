using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Distributed.Grains.Tests;

/// <summary>
/// A real Azure Storage emulator (Azurite, from tools/azurite, installed by `npm ci` from its lockfile when missing),
/// in memory on free ports, for as long as the tests that share it run.
/// </summary>
public sealed class Azurite : IAsyncLifetime
{
    const string Account = "devstoreaccount1";
    // Azurite's well-known development key (public, the same in every Azurite).
    const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    Process? process;

    public string ConnectionString { get; private set; } = "";
    public int BlobPort { get; private set; }

    public async Task InitializeAsync()
    {
        var tools = Path.Combine(RepositoryRoot(), "tools", "azurite");
        var main = Path.Combine(tools, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(main)) await RunAsync("npm", "ci --no-audit --no-fund", tools, TimeSpan.FromMinutes(5));
        BlobPort = FreePort();
        int queue = FreePort(), table = FreePort();
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = tools,
        };
        foreach (var a in new[] { main, "--silent", "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose",
                     "--blobHost", "127.0.0.1", "--blobPort", $"{BlobPort}", "--queueHost", "127.0.0.1", "--queuePort", $"{queue}",
                     "--tableHost", "127.0.0.1", "--tablePort", $"{table}" })
            start.ArgumentList.Add(a);
        process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Listening(BlobPort) || !Listening(table))
        {
            if (process.HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException($"Azurite did not start (exit {(process.HasExited ? process.ExitCode : -1)})");
            await Task.Delay(100);
        }
        ConnectionString = $"DefaultEndpointsProtocol=http;AccountName={Account};AccountKey={Key};" +
                           $"BlobEndpoint=http://127.0.0.1:{BlobPort}/{Account};TableEndpoint=http://127.0.0.1:{table}/{Account};";
    }

    public async Task DisposeAsync()
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process?.Dispose();
    }

    static bool Listening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    static int FreePort()
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    static async Task RunAsync(string file, string arguments, string directory, TimeSpan timeout)
    {
        using var p = Process.Start(new ProcessStartInfo(file, arguments) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true })!;
        var error = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(timeout);
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {arguments} failed in {directory}: {await error}");
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Distributed.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<Azurite>
{
    public const string Name = "azurite";
}
