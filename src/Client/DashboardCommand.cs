using System.Net;
using System.Runtime.InteropServices;
using Distributed.Dashboard;

namespace Distributed.Client;

/// <summary>
/// `dashboard`: the sweeps live in a browser, served on loopback by this process as the user's own cluster client
/// (so the cluster applies this user's role), or over the embedded silo, which then runs sweeps while it is open.
/// </summary>
public static class DashboardCommand
{
    public const string Verb = "dashboard";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string>();
    public static readonly VerbUsage[] Usage =
    [
        new("dashboard [--port N]", "the sweeps live in a browser (trials, curves, effects, attention), on loopback;\nprints the URL to open and serves until Ctrl+C (port 0, the default: any free one)"),
    ];

    public static async Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        var target = Connection.Target.From(cli);
        int port = cli.Int("port", 0);
        cli.RejectUnknown();
        if (port is < 0 or > 65535) throw new UsageException($"--port: {port} is not a port (0 for any free one, or 1..65535)");
        await using var connection = await Connection.OpenAsync(target);
        var access = new TokenAccess(connection.Caller);
        DashboardServer server;
        try
        {
            server = await DashboardServer.StartAsync(new DashboardListener(IPAddress.Loopback, port, access), connection.Grains);
        }
        catch (IOException e)
        {
            throw new UsageException($"--port: cannot listen on 127.0.0.1:{port}: {e.Message}");
        }
        await using (server)
        {
            var stopped = new TaskCompletionSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                stopped.TrySetResult();
            };
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
            {
                signal.Cancel = true;
                stopped.TrySetResult();
            });
            output.WriteLine($"dashboard of {connection.Description}, as {connection.Caller.Subject} ({connection.Caller.Role.ToString().ToLowerInvariant()}):");
            output.WriteLine($"  {server.Address}?token={access.Token}");
            output.WriteLine(connection.Embedded ? "sweeps run while it is open; Ctrl+C stops both" : "Ctrl+C stops it");
            output.Flush();
            await stopped.Task;
        }
        return 0;
    }
}
