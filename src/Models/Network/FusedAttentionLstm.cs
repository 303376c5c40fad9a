using TorchSharp;
using static Distributed.Models.TensorMemory;
using static TorchSharp.torch;

namespace Distributed.Models.Network;

/// <summary>
/// The teacher-forced recurrence of a one-layer attention LSTM decoder as one autograd node with a
/// hand-written backward (back-propagation through time). Per step only the GEMMs go to libtorch; the
/// element-wise work (additive scores with their tanh, the masked softmax, the LSTM gates) runs as single-pass
/// SIMD kernels (<see cref="RecurrenceKernels"/>), and every weight gradient is one GEMM over all time steps.
/// Same function as <see cref="Decoder"/>'s step loop: a test compares values and gradients with autograd.
/// </summary>
public sealed unsafe class FusedAttentionLstm : autograd.MultiTensorFunction<FusedAttentionLstm>
{
    public override string Name => "FusedAttentionLstm";

    /// <summary>
    /// Tops (time, batch, hidden) and contexts (time, batch, encoder) for input projections
    /// <paramref name="inputs"/> (time, batch, 4·hidden) that already hold the embedding part and the input bias
    /// (both biases without layer norm). With layer norm: gates = LN_ih(inputs + W_c·ctx) + LN_hh(W_hh·h + b_hh).
    /// </summary>
    public static (Tensor Tops, Tensor Contexts) Run(Tensor inputs, RnnState initial, DecoderMemory memory, Attention attention,
        CellWeights cell, Tensor weightContext, Tensor? hiddenMask, Tensor? contextMask)
    {
        var (kind, queryWeight, score) = attention.Parts;
        var outputs = apply(inputs, initial.H, initial.C!, memory.Values, memory.Keys!, cell.HhT.t(), weightContext,
            queryWeight!, score!, memory.Padding!, kind, hiddenMask!, contextMask!,
            cell.HiddenBias!, cell.InputNorm?.weight!, cell.InputNorm?.bias!, cell.HiddenNorm?.weight!, cell.HiddenNorm?.bias!,
            cell.InputNorm?.eps ?? 0.0);
        return (outputs[0], outputs[1]);
    }

    sealed record Saved(AttentionKind Kind, Tensor Values, Tensor Keys, Tensor WeightHh, Tensor WeightContext, Tensor? QueryWeight,
        Tensor? Score, Tensor? HiddenMask, Tensor? ContextMask, Tensor H, Tensor C, Tensor Gates, Tensor TanhC, Tensor Alphas,
        Tensor Contexts, Tensor? Energies, Norms? Norms);

    // Layer-norm parameters and what their backward needs: normalised inputs and 1/σ of both transforms, per step.
    sealed record Norms(Tensor GammaIh, Tensor GammaHh, bool HasHiddenBias, Tensor NormalisedIh, Tensor RstdIh, Tensor NormalisedHh, Tensor RstdHh);

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var h0 = (Tensor)vars[1];
        var c0 = (Tensor)vars[2];
        var values = ((Tensor)vars[3]).contiguous();
        var keys = ((Tensor)vars[4]).contiguous();
        var weightHh = (Tensor)vars[5];
        var weightContext = (Tensor)vars[6];
        var queryWeight = vars[7] as Tensor;
        var score = (vars[8] as Tensor)?.contiguous();
        var padding = (vars[9] as Tensor)?.to(ScalarType.Byte).contiguous();
        var kind = (AttentionKind)vars[10];
        var hiddenMask = vars[11] as Tensor;
        var contextMask = vars[12] as Tensor;
        var hiddenBias = vars[13] as Tensor;
        var gammaIh = (vars[14] as Tensor)?.contiguous();
        var betaIh = (vars[15] as Tensor)?.contiguous();
        var gammaHh = (vars[16] as Tensor)?.contiguous();
        var betaHh = (vars[17] as Tensor)?.contiguous();
        float eps = (float)(double)vars[18];
        bool norm = gammaIh is not null;

        int time = (int)x.shape[0], batch = (int)x.shape[1], hidden = (int)h0.shape[1];
        int source = (int)values.shape[1], context = (int)values.shape[2], size = (int)keys.shape[2];
        var hhT = weightHh.t();
        var contextT = weightContext.t();
        var queryT = queryWeight?.t();

        var hs = empty(time + 1, batch, hidden);
        var cs = empty(time + 1, batch, hidden);
        hs[0].copy_(h0);
        cs[0].copy_(c0);
        // Without layer norm the step adds its GEMMs into a copy of the inputs in place; the kernel then activates the gates in place.
        var gates = norm ? zeros(time, batch, 4 * hidden) : x.contiguous().clone();
        var normalisedIh = norm ? empty(time, batch, 4 * hidden) : null;
        var normalisedHh = norm ? empty(time, batch, 4 * hidden) : null;
        var rstdIh = norm ? empty(time, batch) : null;
        var rstdHh = norm ? empty(time, batch) : null;
        var tanhC = empty(time, batch, hidden);
        var alphas = empty(time, batch, source);
        var contexts = empty(time, batch, context);
        var energies = kind == AttentionKind.Additive ? empty(time, batch, source, size) : null;
        float* pH = Floats(hs), pC = Floats(cs), pGates = Floats(gates), pTanhC = Floats(tanhC), pAlpha = Floats(alphas);
        float* pValues = Floats(values), pContexts = Floats(contexts);
        float* pKeys = Floats(keys), pEnergy = energies is null ? null : Floats(energies), pScore = score is null ? null : Floats(score);
        byte* pPad = padding is null ? null : Bytes(padding);

        for (int t = 0; t < time; t++)
        {
            var hPrev = hs[t];
            var alpha = alphas[t];
            if (kind == AttentionKind.Additive)
            {
                var q = hPrev.mm(queryT!);
                RecurrenceKernels.AdditiveAttention(pKeys, Floats(q), pScore, pPad, pEnergy + (long)t * batch * source * size,
                    pAlpha + (long)t * batch * source, batch, source, size);
            }
            else
            {
                alpha.copy_(keys.bmm(hPrev.unsqueeze(2)).squeeze(2));
                RecurrenceKernels.MaskedSoftmax(pAlpha + (long)t * batch * source, pPad, batch, source);
            }
            var c = contexts[t];
            RecurrenceKernels.Context(pAlpha + (long)t * batch * source, pValues, pContexts + (long)t * batch * context, batch, source, context);
            var g = gates[t];
            var contextIn = contextMask is null ? c : c * contextMask;
            var hIn = hiddenMask is null ? hPrev : hPrev * hiddenMask;
            if (norm)
            {
                long rows = (long)t * batch, cells = rows * 4 * hidden;
                var ih = torch.addmm(x[t], contextIn, contextT, 1, 1).contiguous();
                var hh = (hiddenBias is null ? hIn.mm(hhT) : torch.addmm(hiddenBias, hIn, hhT, 1, 1)).contiguous();
                RecurrenceKernels.LayerNormAdd(Floats(ih), Floats(gammaIh!), Floats(betaIh!), eps, pGates + cells,
                    Floats(normalisedIh!) + cells, Floats(rstdIh!) + rows, batch, 4 * hidden);
                RecurrenceKernels.LayerNormAdd(Floats(hh), Floats(gammaHh!), Floats(betaHh!), eps, pGates + cells,
                    Floats(normalisedHh!) + cells, Floats(rstdHh!) + rows, batch, 4 * hidden);
            }
            else
            {
                g.addmm_(contextIn, contextT);
                g.addmm_(hIn, hhT);
            }
            RecurrenceKernels.LstmCell(pGates + (long)t * batch * 4 * hidden, pC + (long)t * batch * hidden, pC + (long)(t + 1) * batch * hidden,
                pTanhC + (long)t * batch * hidden, pH + (long)(t + 1) * batch * hidden, batch, hidden);
        }

        ctx.save_data("saved", new Saved(kind, values, keys, weightHh, weightContext, queryWeight, score, hiddenMask, contextMask,
            hs.narrow(0, 0, time), cs.narrow(0, 0, time), gates, tanhC, alphas, contexts, energies,
            norm ? new Norms(gammaIh!, gammaHh!, hiddenBias is not null, normalisedIh!, rstdIh!, normalisedHh!, rstdHh!) : null));
        return [hs.narrow(0, 1, time), contexts];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        var s = (Saved)ctx.get_data("saved");
        var dTops = gradients[0].contiguous();
        var dContextsOut = gradients[1];
        int time = (int)s.Gates.shape[0], batch = (int)s.Gates.shape[1], hidden = (int)s.H.shape[2];
        int source = (int)s.Values.shape[1], size = (int)s.Keys.shape[2];
        bool additive = s.Kind == AttentionKind.Additive;
        var dhNext = zeros(batch, hidden);
        var dcNext = zeros(batch, hidden);
        var dGates = empty(time, batch, 4 * hidden);
        var n = s.Norms;
        // With layer norm, gradients wrt the two transforms before their norms; without, both are the gate gradient.
        var dIh = n is null ? dGates : empty(time, batch, 4 * hidden);
        var dHh = n is null ? dGates : empty(time, batch, 4 * hidden);
        var dGammaIh = n is null ? null : zeros(4 * hidden);
        var dBetaIh = n is null ? null : zeros(4 * hidden);
        var dGammaHh = n is null ? null : zeros(4 * hidden);
        var dBetaHh = n is null ? null : zeros(4 * hidden);
        var dValues = zeros_like(s.Values);
        var dAlpha = empty(batch, source);
        var dQueries = additive ? empty(time, batch, size) : null;
        var dScores = additive ? null : empty(time, batch, source);
        var dKeys = additive ? zeros_like(s.Keys) : null;
        var dScore = additive ? zeros_like(s.Score!) : null;
        float* pGates = Floats(s.Gates), pTanhC = Floats(s.TanhC), pC = Floats(s.C), pDTops = Floats(dTops), pDc = Floats(dcNext);
        float* pDGates = Floats(dGates), pAlpha = Floats(s.Alphas), pValues = Floats(s.Values), pDValues = Floats(dValues);
        float* pDAlpha = Floats(dAlpha);
        float* pEnergy = additive ? Floats(s.Energies!) : null, pScore = additive ? Floats(s.Score!) : null;
        float* pDKeys = additive ? Floats(dKeys!) : null, pDScore = additive ? Floats(dScore!) : null;
        float* pDQueries = additive ? Floats(dQueries!) : null, pDScores = additive ? null : Floats(dScores!);

        for (int t = time - 1; t >= 0; t--)
        {
            long bh = (long)t * batch * hidden;
            RecurrenceKernels.LstmCellBackward(pGates + 4 * bh, pTanhC + bh, pC + bh, pDTops + bh, Floats(dhNext), pDc,
                pDGates + 4 * bh, batch, hidden);
            if (n is not null)
            {
                long rows = (long)t * batch, cells = rows * 4 * hidden;
                RecurrenceKernels.LayerNormBackward(pDGates + cells, Floats(n.NormalisedIh) + cells, Floats(n.RstdIh) + rows, Floats(n.GammaIh),
                    Floats(dIh) + cells, Floats(dGammaIh!), Floats(dBetaIh!), batch, 4 * hidden);
                RecurrenceKernels.LayerNormBackward(pDGates + cells, Floats(n.NormalisedHh) + cells, Floats(n.RstdHh) + rows, Floats(n.GammaHh),
                    Floats(dHh) + cells, Floats(dGammaHh!), Floats(dBetaHh!), batch, 4 * hidden);
            }
            var dContext = s.ContextMask is null
                ? torch.addmm(dContextsOut[t], dIh[t], s.WeightContext, 1, 1)
                : dIh[t].mm(s.WeightContext).mul_(s.ContextMask).add_(dContextsOut[t]);
            var dhPrev = dHh[t].mm(s.WeightHh);
            if (s.HiddenMask is not null) dhPrev.mul_(s.HiddenMask);
            long bs = (long)t * batch * source;
            RecurrenceKernels.ContextBackward(pAlpha + bs, pValues, Floats(dContext), pDAlpha, pDValues, batch, source, (int)s.Values.shape[2]);
            if (additive)
            {
                RecurrenceKernels.AdditiveAttentionBackward(pAlpha + bs, pDAlpha, pEnergy + bs * size, pScore, pDKeys,
                    pDQueries + (long)t * batch * size, pDScore, batch, source, size);
                dhPrev.addmm_(dQueries![t], s.QueryWeight!);
            }
            else
            {
                RecurrenceKernels.SoftmaxBackward(pAlpha + bs, pDAlpha, pDScores + bs, batch, source);
                dhPrev.add_(dScores![t].unsqueeze(1).bmm(s.Keys).squeeze(1));
            }
            dhNext = dhPrev;
        }

        // For dot/multiplicative attention dK = Σ_t dscore_tᵀ h_t, as one batched GEMM.
        if (!additive) dKeys = dScores!.permute(1, 2, 0).bmm(s.H.transpose(0, 1));

        // Weight gradients: one GEMM each over all (time, batch) rows.
        var hIn = s.HiddenMask is null ? s.H : s.H * s.HiddenMask;
        var contextIn = s.ContextMask is null ? s.Contexts : s.Contexts * s.ContextMask;
        var dWeightHh = dHh.reshape(-1, 4 * hidden).t().mm(hIn.reshape(-1, hidden));
        var dWeightContext = dIh.reshape(-1, 4 * hidden).t().mm(contextIn.reshape(-1, s.Contexts.shape[2]));
        var dHiddenBias = n is not null && n.HasHiddenBias ? dHh.reshape(-1, 4 * hidden).sum(dim: 0) : null;
        var dQueryWeight = dQueries?.reshape(-1, size).t().mm(s.H.reshape(-1, hidden));
        return [dIh, dhNext, dcNext, dValues, dKeys!, dWeightHh, dWeightContext, dQueryWeight!, dScore!, null!, null!, null!, null!,
            dHiddenBias!, dGammaIh!, dBetaIh!, dGammaHh!, dBetaHh!, null!];
    }
}
