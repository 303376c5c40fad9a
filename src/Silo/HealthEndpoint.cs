using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Distributed.Silo;

/// <summary>
/// Kubernetes probes: GET /healthz answers while the process serves requests (liveness); GET /ready answers 200 only
/// once the silo is up and its cluster answers a management call within 5 s (readiness), else 503.
/// </summary>
public sealed class HealthEndpoint(IOptions<SiloHostOptions> options, IGrainFactory grains, IHostApplicationLifetime lifetime,
    ILogger<HealthEndpoint> log) : BackgroundService
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
            "/ready" => await ReadyAsync(),
            _ => (404, "try /healthz or /ready"),
        };
        context.Response.StatusCode = status;
        await using (var writer = new StreamWriter(context.Response.OutputStream)) await writer.WriteAsync(text);
        context.Response.Close();
    }

    async Task<(int, string)> ReadyAsync()
    {
        if (!lifetime.ApplicationStarted.IsCancellationRequested) return (503, "starting");
        if (lifetime.ApplicationStopping.IsCancellationRequested) return (503, "stopping");
        try
        {
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(TimeSpan.FromSeconds(5));
            return (200, $"ready: {hosts.Count} active silo(s)");
        }
        catch (Exception e)
        {
            // The reason goes to the log, not to whoever can reach the probe port.
            log.LogWarning(e, "Readiness: the cluster did not answer a management call");
            return (503, "cluster not answering");
        }
    }
}
