namespace Distributed.Grains.Tests;

// No spec file makes `submit` hang, crash or run out of memory: each is refused with exit code 2, quickly, naming
// the field or file:line, with no stack trace, and no sweep is created.
[Trait("Category", "Integration")]
public class HostileInputTests : IDisposable
{
    readonly string directory = Path.Combine(Path.GetTempPath(), $"distributed-hostile-{Guid.NewGuid():N}");

    public HostileInputTests() => Directory.CreateDirectory(directory);

    public static TheoryData<string> Names => new(HostileSpecs.Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Submit_refuses_a_hostile_spec_quickly_in_bounded_memory_and_creates_no_sweep(string name)
    {
        var file = HostileSpecs.Make(name, directory);
        var data = Path.Combine(directory, "data");
        var (exit, output, error, elapsed, peak) = await Processes.RunMeasuredAsync("distributed.dll",
            ["submit", file, "--data-dir", data], directory, TimeSpan.FromSeconds(15));

        Assert.True(exit == 2, $"exit {exit} after {elapsed}: {error}{output}");
        Assert.Contains(HostileSpecs.Cases[name].Error, error);
        Assert.DoesNotContain("   at ", error);
        Assert.DoesNotContain('\u001b', error);
        Assert.True(peak < 500 * 1024, $"peak RSS {peak / 1024} MB");
        Assert.True(elapsed < TimeSpan.FromSeconds(15), $"took {elapsed}");
        // Refused before the embedded silo starts: it never even made its data directory.
        Assert.False(Directory.Exists(data), $"{data} was created");
    }

    public void Dispose()
    {
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
    }
}
