using Distributed.Models.Network;
using static TorchSharp.torch;

namespace Distributed.Models.Tests.Model;

public class DropoutMasksTests
{
    // A mask keeps each element with probability 1 − p, at 1/(1 − p), else 0, with no pattern between neighbours.
    [Theory]
    [InlineData(0.3)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    public void A_mask_keeps_each_element_independently_with_probability_one_minus_p(double p)
    {
        var generator = new Generator(11);
        var mask = DropoutMasks.Draw([64, 1000], p, generator).data<float>().ToArray();
        float scale = 1f / (float)(1 - p);
        Assert.All(mask, v => Assert.True(v == 0f || v == scale, $"{v}"));
        double kept = mask.Count(v => v != 0) / (double)mask.Length;
        Assert.InRange(kept, 1 - p - 0.01, 1 - p + 0.01);
        // Neighbours agree as often as independent draws do: p² + (1 − p)².
        double agree = Enumerable.Range(1, mask.Length - 1).Count(i => (mask[i] == 0) == (mask[i - 1] == 0)) / (double)(mask.Length - 1);
        Assert.InRange(agree, p * p + (1 - p) * (1 - p) - 0.015, p * p + (1 - p) * (1 - p) + 0.015);
        // So do the same feature in neighbouring rows.
        double rows = Enumerable.Range(1000, mask.Length - 1000).Count(i => (mask[i] == 0) == (mask[i - 1000] == 0)) / (double)(mask.Length - 1000);
        Assert.InRange(rows, p * p + (1 - p) * (1 - p) - 0.015, p * p + (1 - p) * (1 - p) + 0.015);
    }

    // The generator's state decides the mask, whatever its shape: a resumed run draws the same masks, and the
    // vector lanes and the scalar tail give an element the same value.
    [Fact]
    public void The_generator_state_decides_the_mask()
    {
        var generator = new Generator(5);
        using var state = generator.get_state();
        var first = DropoutMasks.Draw([3, 7], 0.3, generator).data<float>().ToArray();
        var second = DropoutMasks.Draw([3, 7], 0.3, generator).data<float>().ToArray();
        Assert.NotEqual(first, second);
        generator.set_state(state);
        Assert.Equal(first, DropoutMasks.Draw([3, 7], 0.3, generator).data<float>().ToArray());
        generator.set_state(state);
        var longer = DropoutMasks.Draw([40], 0.3, generator).data<float>().ToArray();
        Assert.Equal(first, longer.Take(21));
    }
}
