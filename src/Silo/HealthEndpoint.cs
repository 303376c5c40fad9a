using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Distributed.Silo;

/// <summary>
/// Kubernetes probes: GET /healthz answers while the process serves requests (liveness); GET /ready answers 200 only
/// once the silo is up and its own membership view lists it active (readiness), else 503. Readiness asks no other
/// silo: one slow call must not turn every silo unready at once and take the whole gateway Service down.
/// </summary>
public sealed class HealthEndpoint(IOptions<SiloHostOptions> options, IClusterMembershipService membership, ILocalSiloDetails local,
    IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://+:{options.Value.HealthPort}/");
        listener.Start();
        stopping.Register(listener.Stop);
        while (!stopping.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                break;
            }
            _ = AnswerAsync(context);
        }
    }

    async Task AnswerAsync(HttpListenerContext context)
    {
        var (status, text) = context.Request.Url?.AbsolutePath switch
        {
            "/healthz" => (200, "alive"),
            "/ready" => Ready(),
            _ => (404, "try /healthz or /ready"),
        };
        context.Response.StatusCode = status;
        await using (var writer = new StreamWriter(context.Response.OutputStream)) await writer.WriteAsync(text);
        context.Response.Close();
    }

    (int, string) Ready()
    {
        if (!lifetime.ApplicationStarted.IsCancellationRequested) return (503, "starting");
        if (lifetime.ApplicationStopping.IsCancellationRequested) return (503, "stopping");
        var snapshot = membership.CurrentSnapshot;
        var status = snapshot.GetSiloStatus(local.SiloAddress);
        if (status != SiloStatus.Active) return (503, $"silo {status.ToString().ToLowerInvariant()}");
        return (200, $"ready: {snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active)} active silo(s)");
    }
}
