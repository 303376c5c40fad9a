using Distributed.Grains.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Distributed.Silo;

/// <summary>
/// What the silo tells a monitoring system: the project's meter (<see cref="TrainingMeter"/>) and Orleans' own,
/// scraped by Prometheus at <c>/metrics</c> on <see cref="SiloHostOptions.MetricsPort"/>, and pushed with Orleans'
/// traces over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the standard variables configure the rest).
/// </summary>
public static class SiloTelemetry
{
    public static void AddSiloTelemetry(this IServiceCollection services, SiloHostOptions options, string? otlpEndpoint)
    {
        bool otlp = !string.IsNullOrWhiteSpace(otlpEndpoint);
        // Nothing reads them: no listener and no exporter cost anything.
        if (options.MetricsPort == 0 && !otlp) return;
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("distributed-silo", serviceInstanceId: $"{options.AdvertisedAddress}:{options.SiloPort}"))
            .WithMetrics(metrics =>
            {
                Meters(metrics, options.MetricsPort);
                if (otlp) metrics.AddOtlpExporter();
            });
        if (otlp) telemetry.WithTracing(tracing => tracing.AddSource("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application").AddOtlpExporter());
    }

    /// <summary>The meters a silo exports, and its Prometheus endpoint on <paramref name="port"/> (0: none); the benchmark measures the same.</summary>
    public static MeterProviderBuilder Meters(MeterProviderBuilder metrics, int port)
    {
        TrainingMeter.Create();
        metrics.AddMeter(TrainingMeter.Name, "Microsoft.Orleans");
        // Every interface, as the health port: Prometheus scrapes the pod's address, not loopback.
        if (port > 0)
            metrics.AddPrometheusHttpListener(exporter =>
            {
                exporter.Port = port;
                exporter.ConfigureHttpListener = (_, listener) =>
                {
                    listener.Prefixes.Clear();
                    listener.Prefixes.Add($"http://+:{port}/");
                };
            });
        return metrics;
    }
}
