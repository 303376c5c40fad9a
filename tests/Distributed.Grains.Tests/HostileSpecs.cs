using System.Text;

namespace Distributed.Grains.Tests;

/// <summary>Spec files a careless or hostile user could hand to `submit`, each with what the error must name.</summary>
public static class HostileSpecs
{
    const string Base = "data: { task: reverse, examples: 500, minLength: 3, maxLength: 6 }\nschedule: { steps: 50, evaluateEvery: 25 }\n";

    static string BillionLaughs()
    {
        var text = new StringBuilder("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int i = 1; i < 10; i++) text.Append($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]\n");
        return text.Append("model: *a9\n").ToString();
    }

    static string Grid(int factors, int values) =>
        Base + "search:\n  space:\n" + string.Concat(new[] { "schedule.seed", "dropout", "learningRate", "examples" }.Take(factors)
            .Select((f, i) => $"    {f}: [{string.Join(", ", Enumerable.Range(1, values).Select(v => f switch { "dropout" => $"0.00{v:D3}", "learningRate" => $"0.000{v:D3}", _ => $"{v * 10}" }))}]\n"));

    // Name -> (file name, contents, what the error must contain). Contents null: the test makes the file itself.
    public static readonly IReadOnlyDictionary<string, (string File, string? Text, string Error)> Cases = new Dictionary<string, (string, string?, string)>
    {
        ["billion-laughs"] = ("laughs.yaml", BillionLaughs(), "laughs.yaml:1:5: anchors and aliases (&x, *x) are not supported"),
        ["one-alias"] = ("alias.yaml", Base + "model: { hiddenSize: 16 }\ntraining: { batchSize: *b }\n", "alias.yaml:4:24: anchors and aliases (&x, *x) are not supported"),
        ["anchor-on-a-map"] = ("anchor.yaml", Base + "model: &m { hiddenSize: 16 }\n", "anchor.yaml:3:8: anchors and aliases"),
        ["yaml-flow-20000-deep"] = ("deep.yaml", "model: " + new string('[', 20000) + new string(']', 20000) + "\n", "deep.yaml:1:39: maps and lists nested more than 32 deep"),
        ["yaml-block-20000-deep"] = ("block.yaml", "model:\n" + string.Concat(Enumerable.Repeat("- ", 20000)) + "x\n", "block.yaml:2:63: maps and lists nested more than 32 deep"),
        ["yaml-maps-40-deep"] = ("maps.yaml", string.Concat(Enumerable.Range(0, 40).Select(i => $"{{k{i}: ")) + "1" + new string('}', 40) + "\n", "maps.yaml:1:"),
        ["json-20000-deep"] = ("deep.json", "{\"model\": " + new string('[', 20000) + new string(']', 20000) + "}", "deep.json:1:"),
        ["huge-file"] = ("huge.yaml", "# " + new string('x', (1 << 20) + 10) + "\n", "huge.yaml: 1048"),
        ["empty-file"] = ("empty.yaml", "", "empty.yaml: the spec is empty"),
        ["only-comments"] = ("comments.yaml", "# a sweep\n\n   # nothing else\n", "comments.yaml: the spec is empty"),
        ["null-root"] = ("null.yaml", "~\n", "null.yaml: the spec is empty"),
        ["only-document-markers"] = ("markers.yaml", "---\n...\n", "markers.yaml: the spec is empty"),
        ["empty-json"] = ("empty.json", "  \n", "empty.json: the spec is empty"),
        ["json-comments-only"] = ("comments.json", "// nothing\n/* here */\n", "comments.json: the spec is empty"),
        ["json-null"] = ("null.json", "null", "null.json: the spec is empty"),
        ["grid-4x100"] = ("grid.yaml", Grid(4, 100), "search.space: the grid has 100000000 configurations x 1 repeats = 100000000 trials; at most 10000"),
        ["grid-2x101"] = ("grid2.yaml", Grid(2, 101), "search.space: the grid has 10201 configurations"),
        ["grid-times-repeats"] = ("repeats.yaml", Grid(2, 50) + "repeats: 5\n", "repeats: the grid has 2500 configurations x 5 repeats = 12500 trials; at most 10000"),
        ["intRange-0-2^31"] = ("range.yaml", Base + "search: { space: { schedule.seed: { intRange: [0, 2147483647] } } }\n", "search.space: the grid has 2147483648 configurations"),
        ["intRange-four-huge"] = ("ranges.yaml", Base + "search: { space: { schedule.seed: { intRange: [0, 4000000000] }, data.seed: { intRange: [0, 4000000000] }, examples: { intRange: [1, 10000000] }, steps: { intRange: [1, 100000000] } } }\n", "search.space: the grid has more than 9223372036854775807 trials; at most 10000"),
        ["intRange-1e300"] = ("range300.yaml", Base + "search: { space: { schedule.seed: { intRange: [0, 1e300] } } }\n", "search.space.schedule.seed.intRange[1]: '1E+300' is not a whole number"),
        ["samples-x-repeats"] = ("samples.yaml", Base + "search: { method: random, samples: 10000, space: { dropout: { uniform: [0, 0.5] } } }\nrepeats: 100\n", "search.samples: 10000 samples x 100 repeats = 1000000 trials; at most 10000"),
        ["samples-2^40"] = ("samples40.yaml", Base + "search: { method: random, samples: 1099511627776 }\n", "search.samples: '1099511627776' is not a whole number"),
        ["samples-over-cap"] = ("samplesbig.yaml", Base + "search: { method: random, samples: 20000 }\n", "search.samples: must be 1..10000"),
        ["nan-learning-rate"] = ("nan.yaml", Base + "training: { learningRate: NaN }\n", "training.learningRate: 'NaN' is not a number"),
        ["infinite-weight-decay"] = ("inf.yaml", Base + "training: { weightDecay: Infinity }\n", "training.weightDecay: 'Infinity' is not a number"),
        ["nan-in-values"] = ("nanvalues.yaml", Base + "search: { space: { dropout: [0.1, NaN] } }\n", "search.space.dropout[1]: 'NaN' is not a number"),
        ["negative-hidden"] = ("negative.yaml", Base + "model: { hiddenSize: -5, embeddingSize: 1000000 }\n", "model.hiddenSize: must be 1..4096"),
        ["huge-embedding"] = ("embedding.yaml", Base + "model: { embeddingSize: 1000000 }\n", "model.embeddingSize: must be 1..4096"),
        ["huge-examples"] = ("examples.yaml", "data: { examples: 2000000000 }\n", "data.examples: must be 1..10000000"),
        ["huge-line-length"] = ("lines.yaml", "data: { maxLineLength: 2000000000 }\n", "data.maxLineLength: must be 1..1000000"),
        ["huge-batch"] = ("batch.yaml", Base + "training: { batchSize: 100000000 }\n", "training.batchSize: must be 1..65536"),
        ["huge-chunk"] = ("chunk.yaml", Base + "parallel: { exchangeChunkBytes: 2000000000 }\n", "parallel.exchangeChunkBytes: must be 1024..67108864"),
        ["huge-timeout"] = ("timeout.yaml", Base + "parallel: { exchangeTimeout: 10000h }\n", "parallel.exchangeTimeout: must be at most 01:00:00"),
        ["huge-recoveries"] = ("recover.yaml", Base + "parallel: { maxRecoveries: 1000000 }\n", "parallel.maxRecoveries: must be 0..100"),
        ["huge-evaluation"] = ("eval.yaml", "schedule: { evaluationExamples: 2000000000 }\n", "schedule.evaluationExamples: must be 0..10000000"),
        ["zero-checkpoints"] = ("ckpt.yaml", "schedule: { checkpointEvery: 0, evaluateEvery: 1000000000 }\n", "schedule.checkpointEvery: must be 1..100000000"),
        ["huge-beam"] = ("beam.yaml", "schedule: { beamWidth: 100000 }\n", "schedule.beamWidth: must be 1..64"),
        ["huge-warmup"] = ("warmup.yaml", Base + "training: { warmupSteps: 2000000000 }\n", "training.warmupSteps: must be 0..100000000"),
        ["unknown-field"] = ("unknown.yaml", Base + "modle: { layers: 2 }\n", "modle: unknown field (did you mean model?)"),
        ["huge-values-list"] = ("values.yaml", Base + $"search: {{ space: {{ schedule.seed: [{string.Join(", ", Enumerable.Range(0, 5000))}] }} }}\n", "search.space.schedule.seed: lists 5000 values; at most 1000"),
        ["too-many-nodes"] = ("nodes.yaml", Base + $"extra: [{string.Join(",", Enumerable.Repeat("1", 25000))}]\n", "nodes.yaml:3:"),
        ["too-many-options"] = ("options.yaml", Base + "search: { space: { " + string.Join(", ", Enumerable.Range(0, 65).Select(i => $"o{i}: [1]")) + " } }\n", "search.space: varies 65 options; at most 64"),
        ["long-string"] = ("long.yaml", $"data: {{ tsvPath: {new string('p', 5000)} }}\n", "long.yaml:1:18: a value of 5000 characters; at most 4096"),
        ["control-chars-in-name"] = ("name.yaml", "name: \"\\e[2J\\e[31mowned\\r\"\n" + Base, "name: must not contain control characters"),
        ["long-name"] = ("longname.yaml", $"name: {new string('n', 300)}\n" + Base, "name: must be at most 200 characters"),
        ["two-documents"] = ("docs.yaml", Base + "---\nmodel: { layers: 2 }\n", "docs.yaml:3:1: a spec file holds one document"),
        ["map-as-key"] = ("key.yaml", Base + "? [a, b]\n: 1\n", "key.yaml:3:3: a key must be a single value"),
        ["duplicate-key"] = ("dup.yaml", Base + "data: { task: copy }\n", "dup.yaml:3:1: Duplicate key data"),
        ["json-duplicate-key"] = ("dup.json", "{\"repeats\": 1, \"repeats\": 2}", "dup.json:1:16: Duplicate key repeats"),
        ["json-grid-4x100"] = ("grid.json", "{\"search\": {\"space\": {" + string.Join(", ", new[] { "schedule.seed", "data.seed", "examples", "steps" }.Select(f => $"\"{f}\": [{string.Join(", ", Enumerable.Range(1, 100))}]")) + "}}}", "search.space: the grid has 100000000 configurations"),
        ["not-utf8"] = ("binary.yaml", null, "binary.yaml: cannot be read as UTF-8 text"),
        ["dev-zero"] = ("/dev/zero", null, "/dev/zero: not a regular file"),
        ["fifo"] = ("pipe.yaml", null, "pipe.yaml: not a regular file"),
        ["directory"] = ("folder.yaml", null, "folder.yaml: is a directory"),
        ["missing-file"] = ("nowhere.yaml", null, "nowhere.yaml: no such file"),
    };

    /// <summary>Writes the case's file under <paramref name="directory"/>; returns the path to give `submit`.</summary>
    public static string Make(string name, string directory)
    {
        var (file, text, _) = Cases[name];
        if (Path.IsPathRooted(file)) return file;
        var path = Path.Combine(directory, file);
        if (text is not null) File.WriteAllText(path, text);
        else if (name == "not-utf8") File.WriteAllBytes(path, [0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe, 0xc3, 0x28, 0x0a]);
        else if (name == "fifo") System.Diagnostics.Process.Start("mkfifo", [path])!.WaitForExit();
        else if (name == "directory") Directory.CreateDirectory(path);
        return path;
    }
}
