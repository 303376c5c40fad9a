using Distributed.Silo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

if (args.Any(a => a is "-h" or "--help"))
{
    Console.WriteLine(SiloConfiguration.Usage());
    return 0;
}
var settings = SiloConfiguration.Read(args, Environment.GetEnvironmentVariables());
if (settings.Problems.Count > 0)
{
    foreach (var line in settings.Problems) Console.Error.WriteLine($"error: {line}");
    Console.Error.WriteLine("(Distributed.Silo --help lists the settings)");
    return 2;
}
var (options, training) = (settings.Host, settings.Training);

// The first silo of a local cluster owns the data directory; silos joining it share the directory with it.
bool local = options.Storage == "local";
using var owner = local && options.PrimaryPort is null ? DataDirectoryOwner.TryTake(training.DataDir) : null;
if (local && options.PrimaryPort is null && owner is null)
{
    Console.Error.WriteLine($"error: {settings.Named("dataDir")}: {Path.GetFullPath(training.DataDir)} is in use by another silo or client; give this cluster its own directory");
    return 2;
}
if (!local && await StorageCheck.ProblemAsync(options.Account(), TimeSpan.FromSeconds(20)) is { } problem)
{
    Console.Error.WriteLine($"error: {settings.Named(options.StorageConnection is null ? "tableEndpoint" : "storageConnection")}: {problem}");
    return 2;
}
if (!local && options.Tls is null)
    Console.Error.WriteLine($"warning: no {settings.Named("tls")}: every process that reaches ports {options.SiloPort} and {options.GatewayPort} may join or act as an operator (docs/security.md)");
var builder = Host.CreateApplicationBuilder();
builder.Services.AddSiloOptions(settings.Configuration);
if (options.HealthPort > 0) builder.Services.AddHostedService<HealthEndpoint>();
builder.Services.AddSiloTelemetry(options, Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"));
builder.UseOrleans(silo =>
{
    if (local) silo.UseLocalSilo(options, training);
    else silo.UseAzureSilo(options, training);
    silo.AddOrleansStatistics(options);
});
using var host = builder.Build();
try
{
    await host.StartAsync();
}
catch (Exception e)
{
    Console.Error.WriteLine($"error: the silo could not start (silo port {options.SiloPort}, gateway port {options.GatewayPort}): {e.GetBaseException().Message}");
    return 1;
}
Distributed.Dashboard.DashboardServer? dashboard;
try
{
    dashboard = await SiloDashboard.StartAsync(options, host.Services);
}
catch (IOException e)
{
    Console.Error.WriteLine($"error: {settings.Named("dashboardPort")}: the dashboard could not listen on port {options.DashboardPort}: {e.Message}");
    await host.StopAsync();
    return 1;
}
await using var stopDashboard = dashboard;
owner?.Publish(new DataDirectoryOwner.Gateway(options.GatewayPort, options.ClusterId, options.ServiceId));
Console.WriteLine($"silo up: cluster {options.ClusterId}, silo port {options.SiloPort}, gateway port {options.GatewayPort}, " +
                  (local ? $"data {Path.GetFullPath(training.DataDir)}" : "storage azure") + (dashboard is null ? "" : $", dashboard {dashboard.Address}"));
await host.WaitForShutdownAsync();
return 0;
