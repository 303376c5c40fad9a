using Distributed.Client;

namespace Distributed.Grains.Tests;

// `distributed --help` is generated from the commands themselves, so a command cannot be missing from it or misnamed.
public class ClientUsageTests
{
    [Fact]
    public void The_usage_lists_every_command_by_the_name_it_is_dispatched_under()
    {
        var usage = ClientVerbs.Usage();
        Assert.Equal(ClientVerbs.All.Count(), ClientVerbs.All.Select(v => v.Name).Distinct().Count());
        foreach (var verb in ClientVerbs.All)
        {
            Assert.NotEmpty(verb.Usage);
            Assert.All(verb.Usage, line => Assert.StartsWith(verb.Name + (line.Synopsis.Length > verb.Name.Length ? " " : ""), line.Synopsis));
            Assert.All(verb.Usage, line => Assert.Contains("  " + line.Synopsis, usage));
            Assert.Same(verb, ClientVerbs.Find(verb.Name));
        }
        Assert.Contains("  replay ID --rule asha|median [--grace N] [--eta N] [--min-trials N]\n", usage.ReplaceLineEndings("\n"));
        Assert.Contains("exit codes: 0 done, 1 failed at run time, 2 bad input", usage);
    }
}
