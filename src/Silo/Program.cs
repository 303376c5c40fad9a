using Distributed.Silo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

if (args.Any(a => a is "-h" or "--help"))
{
    Console.WriteLine(SiloHostOptions.Usage);
    return 0;
}
var (options, errors) = SiloHostOptions.Read(args, Environment.GetEnvironmentVariables());
if (options is null)
{
    foreach (var error in errors) Console.Error.WriteLine($"error: {error}");
    Console.Error.WriteLine(SiloHostOptions.Usage);
    return 2;
}

// The first silo of a local cluster owns the data directory; silos joining it share the directory with it.
bool local = options.Storage == "local";
using var owner = local && options.PrimarySiloPort is null ? DataDirectoryOwner.TryTake(options.DataDirectory) : null;
if (local && options.PrimarySiloPort is null && owner is null)
{
    Console.Error.WriteLine($"error: silo.dataDirectory (--data-dir): {Path.GetFullPath(options.DataDirectory)} is in use by another silo or client; give this cluster its own directory");
    return 2;
}
if (!local && await StorageCheck.ProblemAsync(options.StorageConnection!, TimeSpan.FromSeconds(20)) is { } problem)
{
    Console.Error.WriteLine($"error: {SiloHostOptions.StorageConnectionSetting}: {problem}");
    return 2;
}
var builder = Host.CreateApplicationBuilder();
if (options.HealthPort > 0)
    builder.Services.AddHostedService(services => new HealthEndpoint(options.HealthPort, services.GetRequiredService<IGrainFactory>(),
        services.GetRequiredService<IHostApplicationLifetime>()));
builder.UseOrleans(silo =>
{
    if (local) silo.UseLocalSilo(options);
    else silo.UseAzureSilo(options);
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
owner?.Publish(new DataDirectoryOwner.Gateway(options.GatewayPort, options.ClusterId, options.ServiceId));
Console.WriteLine($"silo up: cluster {options.ClusterId}, silo port {options.SiloPort}, gateway port {options.GatewayPort}, " +
                  (local ? $"data {Path.GetFullPath(options.DataDirectory)}" : "storage azure"));
await host.WaitForShutdownAsync();
return 0;
