using System.Collections.Concurrent;
using System.Diagnostics;

namespace Distributed.Grains.Tests;

/// <summary>Runs one of the built programs (the client, the silo) from the test output folder, as a user would.</summary>
static class Processes
{
    /// <summary>Starts a silo process on Azure Storage with these extra arguments; its output lines are collected as they come.</summary>
    public static (Process Process, ConcurrentQueue<string> Output) StartAzureSilo(string storageConnection, IEnumerable<string> args) =>
        StartSilo(["--storage", "azure", .. args], new Dictionary<string, string> { ["DISTRIBUTED_STORAGE_CONNECTION"] = storageConnection });

    /// <summary>A silo process (Distributed.Silo) with these settings; its output lines collect as it runs (see <see cref="WaitUpAsync"/>).</summary>
    public static (Process Process, ConcurrentQueue<string> Output) StartSilo(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null) =>
        Start("Distributed.Silo.dll", args, environment);

    /// <summary>A built program that keeps running (a silo, `distributed dashboard`); its output lines collect as it runs.</summary>
    public static (Process Process, ConcurrentQueue<string> Output) Start(string program, IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, program) }.Concat(args)) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        var process = Process.Start(start)!;
        var output = new ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, output);
    }

    /// <summary>Waits until every silo printed "silo up"; fails with their last lines when one exits or 90 s pass.</summary>
    public static async Task WaitUpAsync(IReadOnlyList<(Process Process, ConcurrentQueue<string> Output)> silos)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!silos.All(s => s.Output.Any(l => l.StartsWith("silo up", StringComparison.Ordinal))))
        {
            Assert.True(DateTime.UtcNow < deadline && silos.All(s => !s.Process.HasExited),
                "a silo did not start: " + string.Join(" | ", silos.SelectMany(s => s.Output).TakeLast(10)));
            await Task.Delay(200);
        }
    }

    public static async Task<(int Exit, string Output, string Error)> RunAsync(string program, IEnumerable<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, program));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        return (process.ExitCode, await output, await error);
    }

    /// <summary>
    /// Runs a program like <see cref="RunAsync"/>, killing it after <paramref name="timeout"/>, and reports how long it
    /// took and its peak resident memory (VmHWM, polled from /proc while it runs).
    /// </summary>
    public static async Task<(int Exit, string Output, string Error, TimeSpan Elapsed, long PeakKilobytes)> RunMeasuredAsync(
        string program, IEnumerable<string> args, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, program));
        foreach (var a in args) start.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        long peak = 0;
        while (!process.HasExited && clock.Elapsed < timeout)
        {
            peak = Math.Max(peak, PeakKilobytes(process.Id));
            await Task.Delay(10);
        }
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return (-1, await output, await error + $"\n(killed after {timeout})", clock.Elapsed, peak);
        }
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error, clock.Elapsed, peak);
    }

    static long PeakKilobytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
