using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Models.Tests.Model;

public class ClippingAndScheduleTests
{
    [Fact]
    public void Norm_clipping_scales_to_the_threshold_and_reports_the_norm_before()
    {
        var g = new float[] { 3, 4, 0, 12 }; // norm 13
        double before = GradientClipping.Clip(g, ClipMode.Norm, 1.0);
        Assert.Equal(13.0, before, 6);
        Assert.Equal(1.0, GradientClipping.L2Norm(g), 5);
        // Direction kept: every element scaled by the same 1/13.
        Assert.Equal(new[] { 3 / 13f, 4 / 13f, 0f, 12 / 13f }, g.Select(v => MathF.Round(v, 5)).ToArray(),
            new FloatTolerance(1e-5f));
    }

    [Fact]
    public void Norm_clipping_leaves_a_small_gradient_alone()
    {
        var g = new float[] { 0.1f, -0.2f };
        GradientClipping.Clip(g, ClipMode.Norm, 1.0);
        Assert.Equal(new[] { 0.1f, -0.2f }, g);
    }

    [Fact]
    public void Value_clipping_clamps_each_element_on_long_buffers_too()
    {
        var g = Enumerable.Range(0, 1001).Select(i => (float)(i - 500) / 100).ToArray();
        double norm = Math.Sqrt(g.Sum(v => (double)v * v));
        Assert.Equal(norm, GradientClipping.Clip(g, ClipMode.Value, 0.5), 4);
        Assert.Equal(-0.5f, g.Min());
        Assert.Equal(0.5f, g.Max());
        Assert.Equal(0.25f, g[525]);
    }

    [Theory]
    [InlineData(SamplingSchedule.Constant, 0, 1.0)]
    [InlineData(SamplingSchedule.Constant, 5000, 1.0)]
    [InlineData(SamplingSchedule.Linear, 0, 1.0)]
    [InlineData(SamplingSchedule.Linear, 2500, 0.75)]   // 1 - 1e-4 * 2500
    [InlineData(SamplingSchedule.Linear, 20000, 0.1)]   // floored at the minimum
    [InlineData(SamplingSchedule.Exponential, 0, 1.0)]
    [InlineData(SamplingSchedule.Exponential, 1000, 0.36769542477)] // 0.999^1000
    public void Schedules_follow_Bengio_et_al(SamplingSchedule schedule, long step, double expected)
    {
        var s = new ScheduledSampling { Schedule = schedule, Initial = 1.0, Slope = 1e-4, Decay = 0.999, Minimum = 0.1 };
        Assert.Equal(expected, s.TeacherProbability(step), 9);
    }

    [Fact]
    public void Inverse_sigmoid_schedule_matches_its_formula()
    {
        var s = new ScheduledSampling { Schedule = SamplingSchedule.InverseSigmoid, Decay = 500 };
        Assert.Equal(500 / (500 + Math.Exp(0)), s.TeacherProbability(0), 12);
        Assert.Equal(500 / (500 + Math.Exp(3000 / 500.0)), s.TeacherProbability(3000), 12);
        Assert.True(s.TeacherProbability(4000) < s.TeacherProbability(3000));
    }

    [Fact]
    public void Bad_schedules_are_refused_with_the_field_named()
    {
        var errors = new TrainingOptions
        {
            TeacherForcing = new ScheduledSampling { Schedule = SamplingSchedule.Exponential, Decay = 1.5 },
        }.Validate();
        Assert.Contains("training.teacherForcing.decay: must be in (0, 1) for the exponential schedule", errors);
    }

    [Fact]
    public void Warm_up_then_cosine_decay()
    {
        var o = new TrainingOptions { LearningRate = 1.0, WarmupSteps = 10, Decay = LearningRateDecay.Cosine, DecaySteps = 100 };
        Assert.Equal(0.1, LearningRateSchedule.At(o, 0), 12);
        Assert.Equal(1.0, LearningRateSchedule.At(o, 9), 12);
        Assert.Equal(0.5, LearningRateSchedule.At(o, 59), 12);
        Assert.Equal(0.0, LearningRateSchedule.At(o, 109), 12);
    }

    sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}
