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
Console.WriteLine($"silo up: cluster {options.ClusterId}, silo port {options.SiloPort}, gateway port {options.GatewayPort}, data {Path.GetFullPath(options.DataDirectory)}");
await host.WaitForShutdownAsync();
return 0;
