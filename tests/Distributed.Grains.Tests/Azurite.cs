using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Distributed.Grains.Tests;

/// <summary>
/// A real Azure Storage emulator (Azurite, from tools/azurite, installed by `npm ci` from its lockfile when missing),
/// on free ports, keeping its data in a temporary folder so that it can be restarted under running silos.
/// </summary>
public sealed class Azurite : IAsyncLifetime
{
    const string Account = "devstoreaccount1";
    // Azurite's well-known development key (public, the same in every Azurite).
    const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    Process? process;
    readonly List<string> arguments = [];
    readonly string location = Path.Combine(Path.GetTempPath(), $"azurite-{Guid.NewGuid():N}");
    string tools = "";
    int tablePort;

    public string ConnectionString { get; private set; } = "";
    public int BlobPort { get; private set; }

    public async Task InitializeAsync()
    {
        tools = Path.Combine(RepositoryRoot(), "tools", "azurite");
        var main = Path.Combine(tools, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(main)) await RunAsync("npm", "ci --no-audit --no-fund", tools, TimeSpan.FromMinutes(5));
        BlobPort = FreePort();
        int queue = FreePort();
        tablePort = FreePort();
        arguments.AddRange([main, "--silent", "--location", location, "--disableTelemetry", "--skipApiVersionCheck", "--loose",
            "--blobHost", "127.0.0.1", "--blobPort", $"{BlobPort}", "--queueHost", "127.0.0.1", "--queuePort", $"{queue}",
            "--tableHost", "127.0.0.1", "--tablePort", $"{tablePort}"]);
        await StartAsync();
        ConnectionString = $"DefaultEndpointsProtocol=http;AccountName={Account};AccountKey={Key};" +
                           $"BlobEndpoint=http://127.0.0.1:{BlobPort}/{Account};TableEndpoint=http://127.0.0.1:{tablePort}/{Account};";
    }

    async Task StartAsync()
    {
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = tools };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Listening(BlobPort) || !Listening(tablePort))
        {
            if (process.HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException($"Azurite did not start (exit {(process.HasExited ? process.ExitCode : -1)})");
            await Task.Delay(100);
        }
    }

    /// <summary>Stops the emulator (SIGTERM: it saves its data), leaves it down for <paramref name="down"/>, and starts it again on the same ports and data.</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        using (var kill = Process.Start("kill", $"-TERM {process!.Id}")) await kill.WaitForExitAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        process.Dispose();
        await Task.Delay(down);
        await StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process?.Dispose();
        try { Directory.Delete(location, recursive: true); } catch (IOException) { }
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
