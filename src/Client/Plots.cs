using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;
using ScottPlot;

namespace Distributed.Client;

/// <summary>The sweep's pictures, as PNG: learning curves of the top trials, and a trial's attention on an input.</summary>
public static class Plots
{
    /// <summary>Training loss (left) and the objective at each evaluation (right) of each trial, by step.</summary>
    public static void LearningCurves(SweepStatus sweep, IReadOnlyList<(SweepTrial Trial, TrialMetrics Metrics)> trials, string path)
    {
        var metric = sweep.Spec.Objective.Metric.ToString();
        var figure = new Multiplot();
        figure.AddPlots(2);
        figure.Layout = new ScottPlot.MultiplotLayouts.Columns();
        Plot loss = figure.GetPlot(0), objective = figure.GetPlot(1);
        foreach (var (trial, metrics) in trials)
        {
            var label = $"#{trial.Number} " + string.Join(" ", trial.Factors.Select(f => $"{f.Factor}={f.Value}"));
            // A trailing mean over 20 steps shows the trend through the batch-to-batch noise.
            var steps = metrics.Steps.Select(s => (double)s.Step).ToArray();
            var smoothed = Smooth(metrics.Steps.Select(s => s.Loss).ToArray(), 20);
            if (steps.Length > 0) loss.Add.ScatterLine(steps, smoothed).LegendText = label;
            var evaluations = metrics.Evaluations;
            if (evaluations.Count > 0)
            {
                var line = objective.Add.Scatter(evaluations.Select(e => (double)e.Step).ToArray(), evaluations.Select(e => sweep.Spec.Objective.Of(e)).ToArray());
                line.LegendText = label;
            }
        }
        loss.ShowLegend(Alignment.UpperRight);
        loss.Title("training loss (mean of 20 steps)");
        loss.XLabel("step");
        loss.YLabel("loss");
        objective.Title($"validation {metric}");
        objective.XLabel("step");
        objective.YLabel(metric);
        objective.ShowLegend(Alignment.LowerRight);
        figure.SavePng(path, 1400, 560);
    }

    /// <summary>
    /// PBT: each explored option of one member over steps (a step line: the values it took at each exploit of its
    /// line), and its validation objective beneath, so the schedule and what it bought read together.
    /// </summary>
    /// <param name="evaluations">The validation evaluations of the member's line: each stretch's from the trial it ran in.</param>
    public static void Schedule(SweepStatus sweep, SweepTrial member, IReadOnlyList<ScheduleStretch> schedule, IReadOnlyList<EvaluationMetrics> evaluations, string path)
    {
        var space = sweep.Spec.Search.Space;
        var figure = new Multiplot();
        figure.AddPlots(space.Count + 1);
        figure.Layout = new ScottPlot.MultiplotLayouts.Rows();
        long end = Math.Max(member.Steps, schedule[^1].From + 1);
        for (int d = 0; d < space.Count; d++)
        {
            var plot = figure.GetPlot(d);
            var xs = new List<double>();
            var ys = new List<double>();
            for (int i = 0; i < schedule.Count; i++)
            {
                long to = i + 1 < schedule.Count ? schedule[i + 1].From : end;
                // A choice that is not a number is drawn by its place in the list.
                double y = schedule[i].Numbers[d] ?? space[d].Values.ToList().FindIndex(v => PopulationBasedTraining.Display(v) == schedule[i].Values[d].Value);
                xs.AddRange([schedule[i].From, to]);
                ys.AddRange([y, y]);
            }
            var line = plot.Add.ScatterLine(xs.ToArray(), ys.ToArray());
            line.LineWidth = 2;
            foreach (var change in schedule.Skip(1)) plot.Add.VerticalLine(change.From, 1, Colors.Gray.WithAlpha(0.5));
            plot.Title($"{space[d].Key} (trial {member.Number})");
            plot.YLabel(space[d].Key.Split('.')[^1]);
        }
        var objective = figure.GetPlot(space.Count);
        if (evaluations.Count > 0)
            objective.Add.Scatter(evaluations.Select(e => (double)e.Step).ToArray(), evaluations.Select(e => sweep.Spec.Objective.Of(e)).ToArray());
        foreach (var change in schedule.Skip(1)) objective.Add.VerticalLine(change.From, 1, Colors.Gray.WithAlpha(0.5));
        objective.Title($"validation {sweep.Spec.Objective.Metric} of the line (members {string.Join(" -> ", schedule.Select(s => s.Member).Distinct())})");
        objective.XLabel("step");
        figure.SavePng(path, 1000, 260 * (space.Count + 1));
    }

    /// <summary>A heat map of attention[output step][source position], the tokens along the axes.</summary>
    public static void Attention(TrialPrediction prediction, string title, string path)
    {
        if (prediction.Attention.Count == 0) throw new UsageException("this trial's model has no attention (attention: none) to plot");
        int rows = prediction.Attention.Count, columns = prediction.Attention[0].Length;
        var values = new double[rows, columns];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) values[r, c] = prediction.Attention[r][c];
        var plot = new Plot();
        var map = plot.Add.Heatmap(values);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(map);
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, columns).Select(c => (double)c).ToArray(), prediction.SourceTokens.ToArray());
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(r => (double)(rows - 1 - r)).ToArray(), prediction.OutputTokens.ToArray());
        plot.Title(title);
        plot.XLabel("source");
        plot.YLabel("output");
        plot.SavePng(path, Math.Max(640, 60 * columns + 200), Math.Max(420, 40 * rows + 160));
    }

    static double[] Smooth(double[] values, int window)
    {
        var result = new double[values.Length];
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }
}
