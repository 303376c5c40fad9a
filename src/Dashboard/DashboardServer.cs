using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Distributed.Dashboard;

/// <summary>Where the dashboard listens and how a browser proves who it is.</summary>
public sealed record DashboardListener(IPAddress Address, int Port, IDashboardAccess Access)
{
    /// <summary>HTTPS with this certificate, requiring a client certificate <see cref="AcceptClient"/> accepts; null serves plain HTTP.</summary>
    public X509Certificate2? Certificate { get; init; }
    public Func<X509Certificate2, bool>? AcceptClient { get; init; }
}

/// <summary>
/// The dashboard's own small web host (Kestrel on one port), beside a silo or a client: its own container, so the
/// Orleans host it sits beside is untouched, and it reaches the cluster through <paramref name="grains"/>.
/// <paramref name="extend"/> adds routes a host has and the client has not (the silo mounts the Orleans dashboard).
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    readonly WebApplication app;

    DashboardServer(WebApplication app, Uri address) => (this.app, Address) = (app, address);

    /// <summary>Where a browser opens the dashboard (with the port Kestrel took when 0 was asked).</summary>
    public Uri Address { get; }

    public static async Task<DashboardServer> StartAsync(DashboardListener listener, IGrainFactory grains,
        Action<WebApplicationBuilder>? services = null, Action<WebApplication>? extend = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(listener.Address, listener.Port, endpoint =>
            {
                if (listener.Certificate is not { } certificate) return;
                endpoint.UseHttps(https =>
                {
                    https.ServerCertificate = certificate;
                    https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                    var accept = listener.AcceptClient ?? (_ => false);
                    https.ClientCertificateValidation = (client, _, _) => accept(client);
                });
            });
        });
        services?.Invoke(builder);
        var app = builder.Build();
        app.UseDashboardAccess(listener.Access);
        app.MapDashboard(grains);
        extend?.Invoke(app);
        await app.StartAsync();
        // Kestrel's address names the port it took when 0 was asked.
        var port = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        var scheme = listener.Certificate is null ? "http" : "https";
        var host = IPAddress.IsLoopback(listener.Address) || listener.Address.Equals(IPAddress.Any) ? "127.0.0.1" : listener.Address.ToString();
        return new DashboardServer(app, new Uri($"{scheme}://{host}:{port}/"));
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
