using TorchSharp;
using static Distributed.Models.TensorMemory;
using static TorchSharp.torch;

namespace Distributed.Models.Network;

/// <summary>
/// One direction of an LSTM layer over a whole sequence, for the configurations libtorch's fused kernel cannot
/// run (recurrent dropout on the hidden state, layer norm of the hidden transform), as one autograd node with a
/// hand-written backward: per step one GEMM and single-pass kernels, and the W_hh gradient as one GEMM over all
/// steps. Padded steps (valid = false) carry the state unchanged. Tests compare it with autograd through the cell.
/// </summary>
public sealed unsafe class FusedLstmLayer : autograd.MultiTensorFunction<FusedLstmLayer>
{
    public override string Name => "FusedLstmLayer";

    /// <summary>
    /// Outputs (time, batch, hidden) and the final state for input projections (time, batch, 4·hidden), which hold the
    /// input transform (layer-normalised already when the layer uses layer norm). <paramref name="valid"/> is (time, batch).
    /// </summary>
    public static (Tensor Outputs, RnnState Final) Run(Tensor inputs, RnnState initial, CellWeights w, Tensor? hiddenMask, Tensor? valid)
    {
        var norm = w.HiddenNorm;
        var outputs = apply(inputs, initial.H, initial.C!, w.HhT.t(), w.HiddenBias!, norm?.weight!, norm?.bias!, norm?.eps ?? 0.0,
            hiddenMask!, valid!);
        return (outputs[0], new RnnState(outputs[1], outputs[2]));
    }

    sealed record Saved(Tensor WeightHh, Tensor? Gamma, Tensor? HiddenMask, Tensor? Valid, Tensor H, Tensor C, Tensor Gates,
        Tensor TanhC, Tensor? Normalised, Tensor? Rstd, bool HasHiddenBias);

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var h0 = (Tensor)vars[1];
        var c0 = (Tensor)vars[2];
        var weightHh = (Tensor)vars[3];
        var hiddenBias = vars[4] as Tensor;
        var gamma = (vars[5] as Tensor)?.contiguous();
        var beta = (vars[6] as Tensor)?.contiguous();
        float eps = (float)(double)vars[7];
        var hiddenMask = vars[8] as Tensor;
        var valid = (vars[9] as Tensor)?.to(ScalarType.Byte).contiguous();

        int time = (int)x.shape[0], batch = (int)x.shape[1], hidden = (int)h0.shape[1];
        bool norm = gamma is not null;
        var hhT = weightHh.t();
        var hs = empty(time + 1, batch, hidden);
        var cs = empty(time + 1, batch, hidden);
        hs[0].copy_(h0);
        cs[0].copy_(c0);
        var gates = x.contiguous().clone();
        var tanhC = empty(time, batch, hidden);
        var normalised = norm ? empty(time, batch, 4 * hidden) : null;
        var rstd = norm ? empty(time, batch) : null;
        float* pH = Floats(hs), pC = Floats(cs), pGates = Floats(gates), pTanhC = Floats(tanhC);
        byte* pValid = valid is null ? null : Bytes(valid);

        for (int t = 0; t < time; t++)
        {
            var hIn = hiddenMask is null ? hs[t] : hs[t] * hiddenMask;
            long bh = (long)t * batch * hidden;
            if (norm)
            {
                var hh = (hiddenBias is null ? hIn.mm(hhT) : torch.addmm(hiddenBias, hIn, hhT, 1, 1)).contiguous();
                RecurrenceKernels.LayerNormAdd(Floats(hh), Floats(gamma!), Floats(beta!), eps, pGates + 4 * bh,
                    Floats(normalised!) + 4 * bh, Floats(rstd!) + (long)t * batch, batch, 4 * hidden);
            }
            else
            {
                gates[t].addmm_(hIn, hhT);
            }
            RecurrenceKernels.LstmCell(pGates + 4 * bh, pC + bh, pC + bh + (long)batch * hidden, pTanhC + bh,
                pH + bh + (long)batch * hidden, batch, hidden, pH + bh, pValid is null ? null : pValid + (long)t * batch);
        }

        ctx.save_data("saved", new Saved(weightHh, gamma, hiddenMask, valid, hs.narrow(0, 0, time), cs.narrow(0, 0, time), gates, tanhC,
            normalised, rstd, hiddenBias is not null));
        return [hs.narrow(0, 1, time), hs[time].clone(), cs[time].clone()];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        var s = (Saved)ctx.get_data("saved");
        var dOutputs = gradients[0].contiguous();
        int time = (int)s.Gates.shape[0], batch = (int)s.Gates.shape[1], hidden = (int)s.H.shape[2];
        bool norm = s.Gamma is not null;
        var dhNext = gradients[1].contiguous().clone();
        var dcNext = gradients[2].contiguous().clone();
        var dGates = empty(time, batch, 4 * hidden);
        var dHidden = norm ? empty(time, batch, 4 * hidden) : null;
        var dGamma = norm ? zeros(4 * hidden) : null;
        var dBeta = norm ? zeros(4 * hidden) : null;
        var dhPass = s.Valid is null ? null : empty(batch, hidden);
        float* pGates = Floats(s.Gates), pTanhC = Floats(s.TanhC), pC = Floats(s.C), pDOut = Floats(dOutputs), pDc = Floats(dcNext);
        float* pDGates = Floats(dGates), pPass = dhPass is null ? null : Floats(dhPass);
        byte* pValid = s.Valid is null ? null : Bytes(s.Valid);

        for (int t = time - 1; t >= 0; t--)
        {
            long bh = (long)t * batch * hidden;
            RecurrenceKernels.LstmCellBackward(pGates + 4 * bh, pTanhC + bh, pC + bh, pDOut + bh, Floats(dhNext), pDc, pDGates + 4 * bh,
                batch, hidden, pValid is null ? null : pValid + (long)t * batch, pPass);
            var source = dGates[t];
            if (norm)
            {
                RecurrenceKernels.LayerNormBackward(pDGates + 4 * bh, Floats(s.Normalised!) + 4 * bh, Floats(s.Rstd!) + (long)t * batch,
                    Floats(s.Gamma!), Floats(dHidden!) + 4 * bh, Floats(dGamma!), Floats(dBeta!), batch, 4 * hidden);
                source = dHidden![t];
            }
            var dhPrev = source.mm(s.WeightHh);
            if (s.HiddenMask is not null) dhPrev.mul_(s.HiddenMask);
            if (dhPass is not null) dhPrev.add_(dhPass);
            dhNext = dhPrev;
        }

        var dTransform = (norm ? dHidden! : dGates).reshape(-1, 4 * hidden);
        var hIn = s.HiddenMask is null ? s.H : s.H * s.HiddenMask;
        var dWeightHh = dTransform.t().mm(hIn.reshape(-1, hidden));
        var dHiddenBias = s.HasHiddenBias ? dTransform.sum(dim: 0) : null;
        return [dGates, dhNext, dcNext, dWeightHh, dHiddenBias!, dGamma!, dBeta!, null!, null!, null!];
    }
}
