using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Runtime.Messaging;

namespace Distributed.Grains.Access;

public static class AccessBuilderExtensions
{
    /// <summary>
    /// Who may reach this silo: with <paramref name="certificates"/>, mutual TLS on the silo port (silos only) and the
    /// gateway (clients only); always, the gate on the gateway and the filter on every grain call.
    /// </summary>
    public static ISiloBuilder UseClusterAccess(this ISiloBuilder silo, ClusterCertificates? certificates)
    {
        silo.Services.AddSingleton<ClientGate>();
        silo.AddIncomingGrainCallFilter<ClientSurfaceFilter>();
        silo.Configure<SiloConnectionOptions>(connections =>
        {
            if (certificates is not null)
            {
                connections.ConfigureSiloInboundConnection(c => c.UseServerTls(certificates.BetweenSilos()));
                connections.ConfigureSiloOutboundConnection(c => c.UseClientTls(certificates.BetweenSilos()));
                connections.ConfigureGatewayInboundConnection(c => c.UseServerTls(certificates.ForGateway()));
            }
            // After TLS, so the gate sees the client's certificate.
            connections.ConfigureGatewayInboundConnection(c => c.UseMiddleware<ClientGate>());
        });
        return silo;
    }

    /// <summary>A client of a cluster with TLS: its certificate, and only the cluster's silos trusted.</summary>
    public static IClientBuilder UseClusterTls(this IClientBuilder client, ClusterCertificates certificates) =>
        client.Configure<ClientConnectionOptions>(connections => connections.ConfigureConnection(c => c.UseClientTls(certificates.ForClient())));
}
