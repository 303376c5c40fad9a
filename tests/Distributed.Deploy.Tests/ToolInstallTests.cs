using System.Diagnostics;

namespace Distributed.Deploy.Tests;

// The client as a user installs it: `dotnet pack src/Client` gives the `distributed` .NET tool.
[Trait("Category", "Integration")]
public sealed class ToolInstallTests : IDisposable
{
    readonly string work = Path.Combine(Path.GetTempPath(), $"distributed-tool-{Guid.NewGuid():N}");

    static async Task<(int Exit, string Output)> RunAsync(string program, IEnumerable<string> args, string directory, string home)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
        foreach (var a in args) start.ArgumentList.Add(a);
        // A clean home: nothing installed or cached before, as on a user's fresh machine.
        start.Environment["HOME"] = home;
        start.Environment["DOTNET_CLI_HOME"] = home;
        start.Environment["NUGET_PACKAGES"] = Path.Combine(home, ".nuget", "packages");
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        return (process.ExitCode, await output + await error);
    }

    [Fact]
    public async Task The_packed_tool_installs_in_a_clean_home_and_runs_help_and_training()
    {
        var home = Path.Combine(work, "home");
        var packages = Path.Combine(work, "packages");
        Directory.CreateDirectory(home);
        // Packed from the build the test command just made, as `dotnet pack src/Client -c Release` would after building.
        var pack = await RunAsync("dotnet", ["pack", Path.Combine(Repository.Root, "src", "Client", "Distributed.Client.csproj"), "-c", "Release", "--no-build", "-o", packages], work, home);
        Assert.True(pack.Exit == 0, pack.Output);
        Assert.Single(Directory.GetFiles(packages, "Distributed.Cli.*.nupkg"));

        var install = await RunAsync("dotnet", ["tool", "install", "--global", "--add-source", packages, "Distributed.Cli"], work, home);
        Assert.True(install.Exit == 0, install.Output);
        var tool = Path.Combine(home, ".dotnet", "tools", "distributed");
        Assert.True(File.Exists(tool), $"no {tool} after: {install.Output}");

        var help = await RunAsync(tool, ["--help"], work, home);
        Assert.Equal(0, help.Exit);
        Assert.Contains("usage: distributed COMMAND [options]", help.Output);
        // libtorch loads from the installed tool (the TorchSharp load fix went into the package too).
        var train = await RunAsync(tool, ["train", "--steps", "3", "--evaluateEvery", "3", "--checkpointEvery", "3"], work, home);
        Assert.True(train.Exit == 0, train.Output);
        Assert.Contains("step     3  loss", train.Output);
    }

    public void Dispose()
    {
        try { Directory.Delete(work, recursive: true); } catch (IOException) { }
    }
}
