using System.Text.RegularExpressions;
using Distributed.Grains.Abstractions.Sweeps;

namespace Distributed.Client;

/// <summary>
/// Shell completion: `completion bash` prints a script whose function asks the client itself (`__complete`) for the
/// candidates of the word under the cursor: commands, a command's options (read from its usage), and sweep ids from
/// the cluster or data directory the line names. Anything else (files) is left to the shell.
/// </summary>
public static partial class Completion
{
    public const string Verb = "completion";
    /// <summary>The hidden command the script calls: the line after the program name, up to the word being completed.</summary>
    public const string Query = "__complete";
    public static readonly IReadOnlySet<string> Flags = new HashSet<string>();
    public static readonly VerbUsage[] Usage = [new("completion bash", "a bash completion script for commands, options and sweep ids:\nsource <(distributed completion bash)  (zsh: autoload bashcompinit; bashcompinit first)")];

    static readonly TimeSpan IdsWithin = TimeSpan.FromSeconds(15);

    public static Task<int> RunAsync(CommandLine cli, TextWriter output)
    {
        var shell = cli.Positional("shell (bash)");
        cli.RejectUnknown();
        if (shell != "bash") throw new UsageException($"completion: '{shell}' is not a shell this client completes for (bash; zsh through bashcompinit)");
        output.Write("""
            # distributed: completion of commands, options and sweep ids (source <(distributed completion bash))
            _distributed() {
              local IFS=$'\n'
              COMPREPLY=($(distributed __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
            }
            complete -o default -F _distributed distributed

            """);
        return Task.FromResult(0);
    }

    /// <summary>Prints the candidates for the last of <paramref name="words"/>, one per line; never fails (a shell is waiting).</summary>
    public static async Task<int> CompleteAsync(IReadOnlyList<string> words, TextWriter output)
    {
        string current = words.Count == 0 ? "" : words[^1];
        var before = words.Take(Math.Max(0, words.Count - 1)).ToList();
        IEnumerable<string> candidates = [];
        try
        {
            candidates = await CandidatesAsync(before, current);
        }
        catch (Exception)
        {
            // No cluster, a half-typed option: nothing to offer, and the shell falls back to file names.
        }
        foreach (var candidate in candidates.Where(c => c.StartsWith(current, StringComparison.Ordinal)).Distinct()) output.WriteLine(candidate);
        return 0;
    }

    static async Task<IEnumerable<string>> CandidatesAsync(List<string> before, string current)
    {
        if (before.Count == 0) return ClientVerbs.All.Select(v => v.Name);
        if (before[0] == Verb) return before.Count == 1 ? ["bash"] : [];
        if (ClientVerbs.Find(before[0]) is not { } verb) return [];
        var options = Options(verb);
        if (current.StartsWith('-')) return options;
        var args = before.Skip(1).ToList();
        // The word is an option's value (a file, a number): the shell's own completion knows better.
        if (args.Count > 0 && args[^1].StartsWith("--", StringComparison.Ordinal) && !verb.Flags.Contains(args[^1][2..])) return [];
        if (!TakesSweepId(verb) || Positionals(args, verb).Count > 0) return [];
        var target = Connection.Target.From(new CommandLine(args, verb.Flags));
        // A tab press never makes a data directory where there was none.
        if (target.Cluster is null && target.StorageConnection is null && !Directory.Exists(target.DataDirectory)) return [];
        using var timeout = new CancellationTokenSource(IdsWithin);
        await using var connection = await Connection.OpenAsync(target).WaitAsync(timeout.Token);
        return await connection.Grains.GetGrain<ISweepIndexGrain>(0).ListAsync().WaitAsync(timeout.Token);
    }

    /// <summary>Every option a command's usage names, and the connection's for commands on sweeps.</summary>
    static IEnumerable<string> Options(ClientVerb verb) =>
        verb.Usage.Select(u => u.Synopsis).Concat(ClientVerbs.Sweeps.Contains(verb) ? ClientVerbs.SweepOptions : [])
            .SelectMany(line => OptionName().Matches(line).Select(m => m.Value)).Order(StringComparer.Ordinal);

    static bool TakesSweepId(ClientVerb verb) => verb.Usage.Any(u => u.Synopsis.StartsWith($"{verb.Name} ID", StringComparison.Ordinal));

    static List<string> Positionals(List<string> args, ClientVerb verb)
    {
        var found = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) found.Add(args[i]);
            else if (!verb.Flags.Contains(args[i][2..])) i++;
        }
        return found;
    }

    [GeneratedRegex("--[a-z][a-z-]*")]
    private static partial Regex OptionName();
}
