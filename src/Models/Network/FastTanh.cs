using static TorchSharp.torch;

namespace Distributed.Models.Network;

/// <summary>
/// tanh(x) = 2·σ(2x) − 1. libtorch 2.10's CPU float tanh was measured here at about 5x the cost of sigmoid
/// per element (0.21 ms vs 0.04 ms on 64×10×128), and additive attention applies it to every
/// (batch, source, attention) element at every decoder step.
/// </summary>
public static class FastTanh
{
    public static Tensor Apply(Tensor x) => x.mul(2).sigmoid().mul(2).sub_(1);
}
