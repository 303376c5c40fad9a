using TorchSharp;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>
/// One direction of a recurrent layer (LSTM, GRU or tanh-RNN) over a whole sequence as one autograd node with a
/// hand-written backward (<see cref="FusedCell"/>): per step one packed GEMM and single-pass kernels, and the W_hh
/// gradient as one GEMM over all steps. Training with gradients runs it for every cell instead of libtorch's kernels
/// (step by step through autograd for GRU and tanh-RNN; oneDNN's LSTM, slower on AVX2). Padded steps
/// (valid = false) carry the state unchanged. Tests compare it with autograd through the cell.
/// </summary>
public sealed class FusedRecurrentLayer : autograd.MultiTensorFunction<FusedRecurrentLayer>
{
    public override string Name => "FusedRecurrentLayer";

    /// <summary>
    /// Outputs (time, batch, hidden) and the final state for input projections (time, batch, gates·hidden), which hold the
    /// input transform (layer-normalised already when the layer uses layer norm). <paramref name="valid"/> is (time, batch).
    /// With <paramref name="ownsInputs"/> the caller hands its projections over (nothing else reads them): the recurrence
    /// works in them instead of a copy. With <paramref name="reverse"/> the recurrence runs from the last step to the
    /// first (a bidirectional layer's backward direction over unpadded sequences), inputs and outputs in time order.
    /// With <paramref name="zeroStart"/> the initial state is zeros the caller made and wants no gradient for.
    /// </summary>
    public static (Tensor Outputs, RnnState Final) Run(CellKind cell, Tensor inputs, RnnState initial, CellWeights w, Tensor? hiddenMask,
        Tensor? valid, bool ownsInputs = false, bool reverse = false, bool zeroStart = false)
    {
        var norm = w.HiddenNorm;
        var outputs = apply(inputs, initial.H, initial.C!, w.HhT.t(), w.HiddenBias!, norm?.weight!, norm?.bias!, norm?.eps ?? 0.0,
            hiddenMask!, valid!, cell, ownsInputs, reverse, zeroStart);
        return (outputs[0], new RnnState(outputs[1], cell == CellKind.Lstm ? outputs[2] : null));
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var h0 = (Tensor)vars[1];
        var gamma = vars[5] as Tensor;
        var kind = (CellKind)vars[10];
        var norm = gamma is null ? null : new NormParts(gamma, (Tensor)vars[6], (float)(double)vars[7]);
        var cell = new FusedCell(kind, x, h0, vars[2] as Tensor, (Tensor)vars[3], vars[4] as Tensor, null, norm, vars[8] as Tensor, vars[9] as Tensor,
            ownsInputs: (bool)vars[11], reverse: (bool)vars[12], zeroStart: (bool)vars[13]);
        int time = (int)x.shape[0];
        using (var packed = cell.PackForward())
            for (int s = 0; s < time; s++) cell.Forward(cell.StepAt(s), packed);
        ctx.save_data("cell", cell);
        // A GRU or RNN has no cell state: h_T stands in for it, and its gradient is ignored.
        return [cell.Outputs, cell.FinalState.clone(), cell.FinalCell?.clone() ?? cell.FinalState.clone()];
    }

    public override unsafe List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        var cell = (FusedCell)ctx.get_data("cell");
        var dOutputs = gradients[0].contiguous();
        int time = (int)dOutputs.shape[0], batch = (int)dOutputs.shape[1];
        var d = cell.BeginBackward(gradients[1], gradients[2]);
        float* pDOut = TensorMemory.Floats(dOutputs);
        using (var packed = cell.PackBackward())
            for (int s = time - 1; s >= 0; s--)
            {
                int t = cell.StepAt(s);
                cell.Backward(t, d, pDOut + (long)t * batch * cell.Hidden, packed);
            }
        var (dWeightHh, dHiddenBias) = cell.HiddenWeightGradients(d);
        var (_, _, dGamma, dBeta) = cell.NormGradients(d);
        return [d.Input, d.InitialState(), d.Cell!, dWeightHh, dHiddenBias!, dGamma!, dBeta!, null!, null!, null!, null!, null!, null!, null!];
    }
}
