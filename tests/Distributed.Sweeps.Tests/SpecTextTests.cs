using System.Diagnostics;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Options;
using Distributed.Sweeps;

namespace Distributed.Sweeps.Tests;

// The spec reader stays within its limits whatever the text: each hostile input is one error naming file:line:col
// or the field, found quickly.
public class SpecTextTests
{
    const string Base = "data: { task: reverse, examples: 500, minLength: 3, maxLength: 6 }\nschedule: { steps: 50, evaluateEvery: 25 }\n";

    static string Laughs()
    {
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
        for (int i = 1; i < 12; i++) text += $"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]\n";
        return text + "model: *a11\n";
    }

    public static TheoryData<string, string, string> Hostile => new()
    {
        { "laughs.yaml", Laughs(), "laughs.yaml:1:5: anchors and aliases (&x, *x) are not supported" },
        { "alias.yaml", "model: { hiddenSize: 16 }\ntraining: *x\n", "alias.yaml:2:11: anchors and aliases (&x, *x) are not supported" },
        { "deep.yaml", "model: " + new string('[', 20000) + new string(']', 20000), "deep.yaml:1:39: maps and lists nested more than 32 deep" },
        { "deep.json", "{\"model\": " + new string('[', 20000) + new string(']', 20000) + "}", "deep.json:1:" },
        { "big.yaml", new string('#', (1 << 20) + 1), "big.yaml: the spec is 1048577 bytes; at most 1048576 (1 MiB)" },
        { "empty.yaml", "", "empty.yaml: the spec is empty" },
        { "comments.yaml", "# only\n# comments\n", "comments.yaml: the spec is empty" },
        { "null.yaml", "null", "null.yaml: the spec is empty" },
        { "empty.json", "", "empty.json: the spec is empty" },
        { "comment.json", "// nothing", "comment.json: the spec is empty" },
        { "nodes.json", "{\"x\": [" + string.Join(",", Enumerable.Repeat("1", 30000)) + "]}", "nodes.json:1:" },
        { "string.json", "{\"name\": \"" + new string('n', 5000) + "\"}", "string.json:1:10: a value of 5000 characters; at most 4096" },
        { "dup.json", "{\"repeats\": 1,\n \"repeats\": 2}", "dup.json:2:2: Duplicate key repeats" },
        { "grid.yaml", Base + "search: { space: { schedule.seed: { intRange: [1, 100] }, data.seed: { intRange: [1, 100] }, examples: { intRange: [1, 100] }, steps: { intRange: [1, 100] } } }",
            "search.space: the grid has 100000000 configurations x 1 repeats = 100000000 trials; at most 10000" },
        { "range.yaml", Base + "search: { space: { schedule.seed: { intRange: [0, 2147483648] } } }", "search.space: the grid has 2147483649 configurations" },
        { "random.yaml", Base + "search: { method: random, samples: 5000 }\nrepeats: 3", "search.samples: 5000 samples x 3 repeats = 15000 trials; at most 10000" },
        { "values.yaml", Base + $"search: {{ space: {{ schedule.seed: [{string.Join(",", Enumerable.Range(0, 1001))}] }} }}", "search.space.schedule.seed: lists 1001 values; at most 1000" },
        { "name.yaml", "name: \"a\\x1bb\"", "name: must not contain control characters" },
        { "twice.yaml", "repeats: 1\n---\nrepeats: 2\n", "twice.yaml:2:1: a spec file holds one document" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void A_hostile_spec_is_one_clear_error_found_quickly(string source, string text, string error)
    {
        var clock = Stopwatch.StartNew();
        var (spec, errors) = SweepSpecReader.Read(text, source);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.Null(spec);
        Assert.Contains(errors, e => e.Contains(error, StringComparison.Ordinal));
    }

    [Fact]
    public void A_grid_at_the_cap_is_planned_and_one_over_it_is_refused_before_it_is_built()
    {
        var at = SweepSpecReader.Read(Base + "search: { space: { schedule.seed: { intRange: [1, 100] }, data.seed: { intRange: [1, 100] } } }", "s.yaml");
        Assert.Empty(at.Errors);
        Assert.Equal(SweepLimits.MaxTrials, SweepPlan.Expand(at.Spec!).Trials.Count);
        var over = at.Spec! with { Repeats = 2 };
        Assert.Equal((20_000L, "repeats: the grid has 10000 configurations x 2 repeats = 20000 trials; at most 10000"), SweepPlan.Count(over));
        Assert.Empty(SweepPlan.Expand(over).Trials);
    }

    [Fact]
    public void The_event_reader_gives_the_same_tree_as_before_for_ordinary_yaml()
    {
        var (spec, errors) = SweepSpecReader.Read("""
            name: plain
            model: { hiddenSize: 32, attention: "none" }
            training:
              teacherForcing: { schedule: linear, slope: 0.001 }
            search:
              space:
                layers: [1, 2]
                dropout: ~
            """, "plain.yaml");
        Assert.Contains("search.space.dropout: must be a list of values, or one of {values: [...]}, {uniform: [min, max]}, {logUniform: [min, max]}, {intRange: [min, max]}", errors);
        Assert.Null(spec);
        (spec, errors) = SweepSpecReader.Read("name: plain\nmodel: { hiddenSize: 32, attention: \"none\" }\ntraining:\n  teacherForcing: { schedule: linear, slope: 0.001 }\nsearch:\n  space:\n    layers: [1, 2]\n", "plain.yaml");
        Assert.Empty(errors);
        Assert.Equal(("plain", 32, AttentionKind.None, 0.001), (spec!.Name, spec.Model.HiddenSize, spec.Model.Attention, spec.Training.TeacherForcing.Slope));
        Assert.Equal([1, 2], SweepPlan.Expand(spec).Trials.Select(t => t.Spec.Model.Layers));
    }

    [Fact]
    public void A_spec_file_over_the_size_is_refused_without_reading_it_whole_and_a_device_is_refused()
    {
        var path = Path.GetTempFileName();
        try
        {
            using (var file = File.OpenWrite(path)) file.SetLength(1L << 32);
            var clock = Stopwatch.StartNew();
            Assert.Equal([$"{path}: 4294967296 bytes; at most 1048576 (1 MiB)"], SweepSpecReader.ReadFile(path).Errors);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Equal(["/dev/zero: not a regular file (a device, a pipe or a socket); a spec is a YAML or JSON file"], SweepSpecReader.ReadFile("/dev/zero").Errors);
    }

    [Theory]
    [InlineData("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")")]
    [InlineData("+cmd", "'+cmd")]
    [InlineData("-2+3", "'-2+3")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    [InlineData("\tx", "'\tx")]
    [InlineData("\r=1", "'\r=1")]
    [InlineData("-0.25", "-0.25")]
    [InlineData("-1E-05", "-1E-05")]
    [InlineData("+3", "+3")]
    [InlineData("layers=2", "layers=2")]
    [InlineData("", "")]
    public void A_csv_cell_a_spreadsheet_would_run_gets_a_quote_and_numbers_stay(string cell, string expected) =>
        Assert.Equal(expected, SweepReport.Inert(cell));
}
