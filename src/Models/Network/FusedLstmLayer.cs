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
        var weightHh = ((Tensor)vars[3]).contiguous();
        var hiddenBias = (vars[4] as Tensor)?.contiguous();
        var gamma = (vars[5] as Tensor)?.contiguous();
        var beta = (vars[6] as Tensor)?.contiguous();
        float eps = (float)(double)vars[7];
        var hiddenMask = (vars[8] as Tensor)?.contiguous();
        var valid = (vars[9] as Tensor)?.to(ScalarType.Byte).contiguous();

        int time = (int)x.shape[0], batch = (int)x.shape[1], hidden = (int)h0.shape[1];
        bool norm = gamma is not null;
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
        var scratch = empty(2, batch, 4 * hidden);
        float* pHiddenIn = Floats(scratch), pHh = pHiddenIn + (long)batch * 4 * hidden;
        float* pHiddenMask = hiddenMask is null ? null : Floats(hiddenMask);
        using var packedHh = new PackedWeight(Floats(weightHh), hidden, batch, 4 * hidden, hidden, transpose: true);

        for (int t = 0; t < time; t++)
        {
            long bh = (long)t * batch * hidden;
            float* hIn = pH + bh;
            if (pHiddenMask is not null) RecurrenceKernels.Multiply(hIn, pHiddenMask, hIn = pHiddenIn, batch * hidden);
            if (norm)
            {
                for (int b = 0; hiddenBias is not null && b < batch; b++)
                    new Span<float>(Floats(hiddenBias), 4 * hidden).CopyTo(new Span<float>(pHh + (long)b * 4 * hidden, 4 * hidden));
                packedHh.Multiply(hIn, hidden, pHh, 4 * hidden, accumulate: hiddenBias is not null);
                RecurrenceKernels.LayerNormAdd(pHh, Floats(gamma!), Floats(beta!), eps, pGates + 4 * bh,
                    Floats(normalised!) + 4 * bh, Floats(rstd!) + (long)t * batch, batch, 4 * hidden);
            }
            else
            {
                packedHh.Multiply(hIn, hidden, pGates + 4 * bh, 4 * hidden, accumulate: true);
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
        var dh = empty(2, batch, hidden); // dh_next and dh_prev, alternating every step
        dh[0].copy_(gradients[1]);
        int next = 0;
        var dcNext = gradients[2].contiguous().clone();
        var dGates = empty(time, batch, 4 * hidden);
        var dHidden = norm ? empty(time, batch, 4 * hidden) : null;
        var dGamma = norm ? zeros(4 * hidden) : null;
        var dBeta = norm ? zeros(4 * hidden) : null;
        var dhPass = s.Valid is null ? null : empty(batch, hidden);
        float* pGates = Floats(s.Gates), pTanhC = Floats(s.TanhC), pC = Floats(s.C), pDOut = Floats(dOutputs), pDc = Floats(dcNext);
        float* pDGates = Floats(dGates), pPass = dhPass is null ? null : Floats(dhPass);
        byte* pValid = s.Valid is null ? null : Bytes(s.Valid);
        float* pDh = Floats(dh);
        float* pHiddenMask = s.HiddenMask is null ? null : Floats(s.HiddenMask);
        using var packedHh = new PackedWeight(Floats(s.WeightHh), hidden, batch, hidden, 4 * hidden, transpose: false);

        for (int t = time - 1; t >= 0; t--)
        {
            long bh = (long)t * batch * hidden;
            float* pDhNext = pDh + (long)next * batch * hidden, pDhPrev = pDh + (long)(1 - next) * batch * hidden;
            RecurrenceKernels.LstmCellBackward(pGates + 4 * bh, pTanhC + bh, pC + bh, pDOut + bh, pDhNext, pDc, pDGates + 4 * bh,
                batch, hidden, pValid is null ? null : pValid + (long)t * batch, pPass);
            float* source = pDGates + 4 * bh;
            if (norm)
            {
                RecurrenceKernels.LayerNormBackward(source, Floats(s.Normalised!) + 4 * bh, Floats(s.Rstd!) + (long)t * batch,
                    Floats(s.Gamma!), Floats(dHidden!) + 4 * bh, Floats(dGamma!), Floats(dBeta!), batch, 4 * hidden);
                source = Floats(dHidden!) + 4 * bh;
            }
            packedHh.Multiply(source, 4 * hidden, pDhPrev, hidden, accumulate: false);
            if (pHiddenMask is not null) RecurrenceKernels.Multiply(pDhPrev, pHiddenMask, pDhPrev, batch * hidden);
            if (pPass is not null) RecurrenceKernels.Add(pDhPrev, pPass, pDhPrev, batch * hidden);
            next = 1 - next;
        }

        var dTransform = (norm ? dHidden! : dGates).reshape(-1, 4 * hidden);
        var hIn = s.HiddenMask is null ? s.H : s.H * s.HiddenMask;
        var dWeightHh = dTransform.t().mm(hIn.reshape(-1, hidden));
        var dHiddenBias = s.HasHiddenBias ? dTransform.sum(dim: 0) : null;
        return [dGates, dh[next], dcNext, dWeightHh, dHiddenBias!, dGamma!, dBeta!, null!, null!, null!];
    }
}
