using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Distributed.Benchmarks;

/// <summary>
/// Runs ../shared/peers/pytorch_seq2seq.py with Debian's PyTorch (/usr/bin/python3) in the same session,
/// so ratios compare both on the same machine at the same moment.
/// </summary>
public static class PytorchPeer
{
    public static string? ScriptPath()
    {
        string root;
        try
        {
            root = Repository.Root();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
        var candidate = Path.GetFullPath(Path.Combine(root, "..", "shared", "peers", "pytorch_seq2seq.py"));
        return File.Exists(candidate) ? candidate : null;
    }

    /// <summary>The peer's JSON result, or null with the reason when it cannot run here.</summary>
    public static (JsonObject? Result, string? Problem) Run(string arguments)
    {
        var script = ScriptPath();
        if (script is null) return (null, "peer script ../shared/peers/pytorch_seq2seq.py not found");
        if (!File.Exists("/usr/bin/python3")) return (null, "/usr/bin/python3 not found");
        // Without OpenBLAS, Debian's PyTorch runs on the reference BLAS, about 14x slower: a ratio against that means nothing.
        if (!Directory.Exists("/usr/lib/x86_64-linux-gnu/openblas-pthread"))
            return (null, "the peer would run on the reference BLAS (install: apt-get install -y libopenblas0-pthread)");
        var start = new ProcessStartInfo("/usr/bin/python3", $"{script} {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
            return (null, $"peer exited {process.ExitCode}: {stderr.Result.Trim().Split('\n').LastOrDefault()} (install: apt-get install -y python3-torch libopenblas0-pthread)");
        var line = stdout.Result.Trim().Split('\n').Last();
        return (JsonNode.Parse(line)!.AsObject(), null);
    }
}
