using Distributed.Silo;
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

// The first silo of a cluster owns the data directory; silos joining it share the directory with it.
using var owner = options.PrimarySiloPort is null ? DataDirectoryOwner.TryTake(options.DataDirectory) : null;
if (options.PrimarySiloPort is null && owner is null)
{
    Console.Error.WriteLine($"error: silo.dataDirectory (--data-dir): {Path.GetFullPath(options.DataDirectory)} is in use by another silo or client; give this cluster its own directory");
    return 2;
}
var builder = Host.CreateApplicationBuilder();
builder.UseOrleans(silo => silo.UseLocalSilo(options));
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
Console.WriteLine($"silo up: cluster {options.ClusterId}, silo port {options.SiloPort}, gateway port {options.GatewayPort}, data {Path.GetFullPath(options.DataDirectory)}");
await host.WaitForShutdownAsync();
return 0;
