using System.Net;
using Distributed.Dashboard;
using Distributed.Grains.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Dashboard;

namespace Distributed.Silo;

/// <summary>
/// The silo's web dashboard on <see cref="SiloHostOptions.DashboardPort"/>: the sweeps (src/Dashboard) and, for
/// operators, the Orleans dashboard under /orleans. With TLS it is HTTPS admitting the same client certificates as the
/// gateway, each with its role (readers see, operators also cancel); without TLS it listens on loopback only.
/// </summary>
public static class SiloDashboard
{
    public const string OrleansPath = "/orleans";

    /// <summary>Every silo gathers the grain statistics the Orleans dashboard shows (a call filter and a counter timer).</summary>
    public static void AddOrleansStatistics(this ISiloBuilder silo, SiloHostOptions options)
    {
        if (options.DashboardPort > 0) silo.AddDashboard(o => o.HideTrace = true);
    }

    public static async Task<DashboardServer?> StartAsync(SiloHostOptions options, IServiceProvider silo)
    {
        if (options.DashboardPort == 0) return null;
        var certificates = options.Certificates();
        var listener = certificates is null
            ? new DashboardListener(IPAddress.Loopback, options.DashboardPort, new LoopbackAccess())
            : new DashboardListener(IPAddress.Any, options.DashboardPort,
                new CertificateAccess(ClusterCertificates.CallerOf))
            {
                Certificate = certificates.Certificate,
                AcceptClient = certificates.AcceptsClient,
            };
        var grains = silo.GetRequiredService<IGrainFactory>();
        return await DashboardServer.StartAsync(listener, grains,
            web =>
            {
                // The Orleans dashboard's web half reads the cluster through grains; its silo half is registered above.
                new WebSide(web.Services, web.Configuration).AddDashboard(o => o.HideTrace = true);
                web.Services.AddSingleton(grains);
            },
            app => app.MapOrleansDashboard(OrleansPath).AddEndpointFilter(async (context, next) =>
                DashboardEndpoints.CallerOf(context.HttpContext).MayAct
                    ? await next(context)
                    : Results.Text("the Orleans dashboard is for operators (OU=operator)", statusCode: StatusCodes.Status403Forbidden)));
    }

    /// <summary>The services the Orleans dashboard's web half needs, registered through its client-side entry point.</summary>
    sealed class WebSide(IServiceCollection services, IConfiguration configuration) : IClientBuilder
    {
        public IServiceCollection Services { get; } = services;
        public IConfiguration Configuration { get; } = configuration;
    }
}
