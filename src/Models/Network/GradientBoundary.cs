using TorchSharp;
using static TorchSharp.torch;

namespace Distributed.Models.Network;

/// <summary>
/// An identity node between the encoder and everything that reads it (bridge, attention keys, decoder). Its backward
/// runs once all of those have run and, since libtorch's engine takes the nodes created later first and a
/// parameter's accumulation before any other node, once every gradient of the decoder and the bridge is final: the
/// moment a worker may start averaging them while the encoder's backward still runs.
/// </summary>
public sealed class GradientBoundary : autograd.MultiTensorFunction<GradientBoundary>
{
    public override string Name => "GradientBoundary";

    /// <summary>The same tensors, through one node that calls <paramref name="reached"/> when the backward pass gets to it.</summary>
    public static List<Tensor> Mark(Action reached, IReadOnlyList<Tensor> tensors) => apply([reached, .. tensors]);

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.save_data("reached", vars[0]);
        return vars.Skip(1).Select(v => ((Tensor)v).alias()).ToList();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        ((Action)ctx.get_data("reached"))();
        return [null!, .. gradients];
    }
}
