using Distributed.Models.Network;

namespace Distributed.Models.Tests.Model;

public unsafe class VectorActivationsTests
{
    // The fused cells' σ and tanh (vector lanes, fused multiply-adds, a refined reciprocal estimate, a scalar tail)
    // against double-precision math, from saturation through zero: within a few float roundings everywhere.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sigmoid_and_tanh_match_double_precision_across_their_range(bool tanh)
    {
        var values = new List<float> { 0f, -0f, 1e-30f, -1e-30f, 1e-4f, 100f, -100f, 88f, -88f, 500f, -500f, float.MaxValue, float.MinValue };
        var random = new Random(7);
        for (int i = 0; i < 4000; i++) values.Add((float)(random.NextDouble() * 40 - 20));
        values.Add(0.5f); // 4014 values: the last few run through the scalar tail
        var x = values.ToArray();
        fixed (float* p = x)
        {
            if (tanh) VectorActivations.Tanh(p, x.Length);
            else VectorActivations.Sigmoid(p, x.Length);
        }
        for (int i = 0; i < x.Length; i++)
        {
            double v = values[i], exact = tanh ? Math.Tanh(v) : 1 / (1 + Math.Exp(-v));
            Assert.True(double.IsFinite(x[i]), $"f({v}) = {x[i]}");
            // tanh = 2σ(2x) − 1 loses relative accuracy near zero, so its bound there is absolute.
            Assert.True(Math.Abs(x[i] - exact) <= 4e-7 * Math.Max(Math.Abs(exact), tanh ? 1 : 0) + 1e-30,
                $"f({v}) = {x[i]:R}, exact {exact:R}");
        }
    }
}
