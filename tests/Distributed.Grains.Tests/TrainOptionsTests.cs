using System.Text.Json;
using Distributed.Client;
using Distributed.Grains.Abstractions.Training;
using Distributed.Options;
using Distributed.Sweeps;

namespace Distributed.Grains.Tests;

// `train` and a sweep read one format through one binder: same defaults, same names, same messages.
public class TrainOptionsTests
{
    static TrialSpec Train(params string[] args) => TrainCommand.Resolve(new CommandLine(args, TrainCommand.Flags));

    static string Json(TrialSpec trial) => JsonSerializer.Serialize(trial, SweepReport.Json);

    [Fact]
    public void Train_with_no_flags_trains_what_a_one_trial_sweep_with_no_fields_trains()
    {
        var (sweep, errors) = SweepSpecReader.Read("{}", "empty.yaml");
        Assert.Empty(errors);
        var planned = SweepPlan.Expand(sweep!).Trials;
        Assert.Single(planned);
        Assert.Equal(Json(planned[0].Spec), Json(Train()));
    }

    [Fact]
    public void Flags_set_fields_by_path_or_by_a_name_only_one_field_has()
    {
        var trial = Train("--layers", "2", "--training.learningRate", "0.003", "--attention", "dot",
            "--teacherForcing", "{ schedule: linear, slope: 0.001, minimum: 0.25 }", "--schedule.steps", "300");
        Assert.Equal(2, trial.Model.Layers);
        Assert.Equal(0.003, trial.Training.LearningRate);
        Assert.Equal(AttentionKind.Dot, trial.Model.Attention);
        Assert.Equal(new ScheduledSampling { Schedule = SamplingSchedule.Linear, Slope = 0.001, Minimum = 0.25 }, trial.Training.TeacherForcing);
        Assert.Equal(300, trial.Schedule.Steps);
        // Everything else is the spec's default.
        Assert.Equal(new ModelOptions().HiddenSize, trial.Model.HiddenSize);
    }

    [Fact]
    public void A_spec_file_gives_the_fields_and_flags_override_them()
    {
        var file = Path.Combine(Path.GetTempPath(), $"train-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, "model: { hiddenSize: 48, layers: 3 }\ndata: { tsvPath: pairs.tsv }\nschedule: { steps: 50 }\n");
        try
        {
            var trial = Train(file, "--layers", "1");
            Assert.Equal((48, 1, 50), (trial.Model.HiddenSize, trial.Model.Layers, trial.Schedule.Steps));
            // A file the spec names is beside the spec, as for submit.
            Assert.Equal(Path.Combine(Path.GetDirectoryName(file)!, "pairs.tsv"), trial.Data.TsvPath);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData(new[] { "--hidden", "64" }, "--hidden: unknown option (did you mean hiddenSize?)")]
    [InlineData(new[] { "--seed", "3" }, "--seed: ambiguous: say data.seed or schedule.seed")]
    [InlineData(new[] { "--layers", "9" }, "model.layers: must be 1..4")]
    [InlineData(new[] { "--model.layers", "two" }, "--model.layers")]
    public void Bad_flags_are_refused_naming_the_flag_or_the_field(string[] args, string expected)
    {
        var error = Assert.Throws<SpecException>(() => Train(args));
        Assert.Contains(error.Problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void A_spec_that_sweeps_is_refused_by_train()
    {
        var file = Path.Combine(Path.GetTempPath(), $"train-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, "search: { space: { layers: [1, 2] } }\n");
        try
        {
            var error = Assert.Throws<SpecException>(() => Train(file));
            Assert.StartsWith("search.space:", error.Problems[0]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void The_usage_lists_every_option_with_its_default()
    {
        var usage = TrainCommand.FieldUsage();
        Assert.Contains("--model.layers (1)", usage);
        Assert.Contains("--training.teacherForcing.schedule (\"constant\")", usage);
        Assert.Contains("--schedule.steps (1000)", usage);
    }
}
