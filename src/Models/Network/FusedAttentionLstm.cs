using TorchSharp;
using static Distributed.Models.TensorMemory;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>
/// The teacher-forced recurrence of a one-layer attention LSTM decoder as one autograd node with a
/// hand-written backward (back-propagation through time). Inside the time loop nothing goes through
/// libtorch's dispatcher: the GEMMs call MKL directly on weights packed once per pass (<see cref="PackedWeight"/>)
/// and the element-wise work (attention scores with their tanh, masked softmax, context, LSTM gates, layer norm)
/// runs as single-pass SIMD kernels (<see cref="RecurrenceKernels"/>). Each weight gradient is one GEMM over all
/// time steps. Same function as <see cref="Decoder"/>'s step loop: tests compare values and gradients with autograd.
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
        var x = ((Tensor)vars[0]).contiguous();
        var h0 = (Tensor)vars[1];
        var c0 = (Tensor)vars[2];
        var values = ((Tensor)vars[3]).contiguous();
        var keys = ((Tensor)vars[4]).contiguous();
        var weightHh = ((Tensor)vars[5]).contiguous();
        var weightContext = (Tensor)vars[6];
        var queryWeight = (vars[7] as Tensor)?.contiguous();
        var score = (vars[8] as Tensor)?.contiguous();
        var padding = (vars[9] as Tensor)?.to(ScalarType.Byte).contiguous();
        var kind = (AttentionKind)vars[10];
        var hiddenMask = (vars[11] as Tensor)?.contiguous();
        var contextMask = (vars[12] as Tensor)?.contiguous();
        var hiddenBias = (vars[13] as Tensor)?.contiguous();
        var gammaIh = (vars[14] as Tensor)?.contiguous();
        var betaIh = (vars[15] as Tensor)?.contiguous();
        var gammaHh = (vars[16] as Tensor)?.contiguous();
        var betaHh = (vars[17] as Tensor)?.contiguous();
        float eps = (float)(double)vars[18];
        bool norm = gammaIh is not null, additive = kind == AttentionKind.Additive;

        int time = (int)x.shape[0], batch = (int)x.shape[1], hidden = (int)h0.shape[1], gateWidth = 4 * hidden;
        int source = (int)values.shape[1], context = (int)values.shape[2], size = (int)keys.shape[2];
        var hs = empty(time + 1, batch, hidden);
        var cs = empty(time + 1, batch, hidden);
        hs[0].copy_(h0);
        cs[0].copy_(c0);
        // Without layer norm the GEMMs accumulate into a copy of the inputs; the cell kernel then activates the gates in place.
        var gates = norm ? zeros(time, batch, gateWidth) : x.clone();
        var tanhC = empty(time, batch, hidden);
        var alphas = empty(time, batch, source);
        var contexts = empty(time, batch, context);
        var energies = additive ? empty(time, batch, source, size) : null;
        var normalisedIh = norm ? empty(time, batch, gateWidth) : null;
        var normalisedHh = norm ? empty(time, batch, gateWidth) : null;
        var rstdIh = norm ? empty(time, batch) : null;
        var rstdHh = norm ? empty(time, batch) : null;
        var scratch = empty(4, batch, Math.Max(gateWidth, Math.Max(size, context)));
        float* pH = Floats(hs), pC = Floats(cs), pGates = Floats(gates), pTanhC = Floats(tanhC), pAlpha = Floats(alphas);
        float* pValues = Floats(values), pContexts = Floats(contexts), pKeys = Floats(keys), pX = Floats(x);
        float* pEnergy = additive ? Floats(energies!) : null, pScore = additive ? Floats(score!) : null;
        float* pHiddenMask = hiddenMask is null ? null : Floats(hiddenMask), pContextMask = contextMask is null ? null : Floats(contextMask);
        byte* pPad = padding is null ? null : Bytes(padding);
        long scratchRow = scratch.shape[1] * scratch.shape[2];
        float* pQuery = Floats(scratch), pContextIn = pQuery + scratchRow, pHiddenIn = pContextIn + scratchRow, pHh = pHiddenIn + scratchRow;

        var (wc, ldWc) = Matrix(weightContext);
        using var packedContext = new PackedWeight((float*)wc, ldWc, batch, gateWidth, context, transpose: true);
        using var packedHh = new PackedWeight(Floats(weightHh), hidden, batch, gateWidth, hidden, transpose: true);
        using var packedQuery = additive ? new PackedWeight(Floats(queryWeight!), hidden, batch, size, hidden, transpose: true) : null;

        for (int t = 0; t < time; t++)
        {
            long bh = (long)t * batch * hidden, bs = (long)t * batch * source, bg = (long)t * batch * gateWidth;
            float* h = pH + bh;
            if (additive)
            {
                packedQuery!.Multiply(h, hidden, pQuery, size, accumulate: false);
                RecurrenceKernels.AdditiveAttention(pKeys, pQuery, pScore, pPad, pEnergy + bs * size, pAlpha + bs, batch, source, size);
            }
            else
            {
                RecurrenceKernels.DotAttention(pKeys, h, pPad, pAlpha + bs, batch, source, size);
            }
            float* c = pContexts + (long)t * batch * context;
            RecurrenceKernels.Context(pAlpha + bs, pValues, c, batch, source, context);
            float* contextIn = c, hiddenIn = h;
            if (pContextMask is not null) RecurrenceKernels.Multiply(c, pContextMask, contextIn = pContextIn, batch * context);
            if (pHiddenMask is not null) RecurrenceKernels.Multiply(h, pHiddenMask, hiddenIn = pHiddenIn, batch * hidden);
            float* g = pGates + bg;
            if (norm)
            {
                float* ih = pQuery; // the query is consumed by now: its scratch row holds the input transform
                new Span<float>(pX + bg, batch * gateWidth).CopyTo(new Span<float>(ih, batch * gateWidth));
                packedContext.Multiply(contextIn, context, ih, gateWidth, accumulate: true);
                for (int b = 0; hiddenBias is not null && b < batch; b++)
                    new Span<float>(Floats(hiddenBias), gateWidth).CopyTo(new Span<float>(pHh + (long)b * gateWidth, gateWidth));
                packedHh.Multiply(hiddenIn, hidden, pHh, gateWidth, accumulate: hiddenBias is not null);
                long rows = (long)t * batch;
                RecurrenceKernels.LayerNormAdd(ih, Floats(gammaIh!), Floats(betaIh!), eps, g, Floats(normalisedIh!) + bg, Floats(rstdIh!) + rows, batch, gateWidth);
                RecurrenceKernels.LayerNormAdd(pHh, Floats(gammaHh!), Floats(betaHh!), eps, g, Floats(normalisedHh!) + bg, Floats(rstdHh!) + rows, batch, gateWidth);
            }
            else
            {
                packedContext.Multiply(contextIn, context, g, gateWidth, accumulate: true);
                packedHh.Multiply(hiddenIn, hidden, g, gateWidth, accumulate: true);
            }
            RecurrenceKernels.LstmCell(g, pC + bh, pC + bh + (long)batch * hidden, pTanhC + bh, pH + bh + (long)batch * hidden, batch, hidden);
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
        var dContextsOut = gradients[1].contiguous();
        int time = (int)s.Gates.shape[0], batch = (int)s.Gates.shape[1], hidden = (int)s.H.shape[2], gateWidth = 4 * hidden;
        int source = (int)s.Values.shape[1], context = (int)s.Values.shape[2], size = (int)s.Keys.shape[2];
        bool additive = s.Kind == AttentionKind.Additive;
        var n = s.Norms;
        var dGates = empty(time, batch, gateWidth);
        // With layer norm, gradients wrt the two transforms before their norms; without, both are the gate gradient.
        var dIh = n is null ? dGates : empty(time, batch, gateWidth);
        var dHh = n is null ? dGates : empty(time, batch, gateWidth);
        var dGammaIh = n is null ? null : zeros(gateWidth);
        var dBetaIh = n is null ? null : zeros(gateWidth);
        var dGammaHh = n is null ? null : zeros(gateWidth);
        var dBetaHh = n is null ? null : zeros(gateWidth);
        var dh = zeros(2, batch, hidden); // dh_next and dh_prev, swapped every step
        var dcNext = zeros(batch, hidden);
        var dContext = empty(batch, context);
        var dAlpha = empty(batch, source);
        var dValues = zeros_like(s.Values);
        var dKeys = zeros_like(s.Keys);
        var dQueries = additive ? empty(time, batch, size) : null;
        var dScore = additive ? zeros_like(s.Score!) : null;
        float* pGates = Floats(s.Gates), pTanhC = Floats(s.TanhC), pC = Floats(s.C), pH = Floats(s.H), pDTops = Floats(dTops);
        float* pDContextsOut = Floats(dContextsOut), pDc = Floats(dcNext), pDGates = Floats(dGates), pDIh = Floats(dIh), pDHh = Floats(dHh);
        float* pAlpha = Floats(s.Alphas), pValues = Floats(s.Values), pKeys = Floats(s.Keys), pDValues = Floats(dValues), pDKeys = Floats(dKeys);
        float* pDContext = Floats(dContext), pDAlpha = Floats(dAlpha), pDh = Floats(dh);
        int next = 0;
        float* pEnergy = additive ? Floats(s.Energies!) : null, pScore = additive ? Floats(s.Score!) : null;
        float* pDScore = additive ? Floats(dScore!) : null, pDQueries = additive ? Floats(dQueries!) : null;
        float* pHiddenMask = s.HiddenMask is null ? null : Floats(s.HiddenMask), pContextMask = s.ContextMask is null ? null : Floats(s.ContextMask);

        var (wc, ldWc) = Matrix(s.WeightContext);
        using var packedContext = new PackedWeight((float*)wc, ldWc, batch, context, gateWidth, transpose: false);
        using var packedHh = new PackedWeight(Floats(s.WeightHh), hidden, batch, hidden, gateWidth, transpose: false);
        using var packedQuery = additive ? new PackedWeight(Floats(s.QueryWeight!), hidden, batch, hidden, size, transpose: false) : null;

        for (int t = time - 1; t >= 0; t--)
        {
            long bh = (long)t * batch * hidden, bs = (long)t * batch * source, bg = (long)t * batch * gateWidth;
            float* pDhNext = pDh + (long)next * batch * hidden, pDhPrev = pDh + (long)(1 - next) * batch * hidden;
            RecurrenceKernels.LstmCellBackward(pGates + bg, pTanhC + bh, pC + bh, pDTops + bh, pDhNext, pDc, pDGates + bg, batch, hidden);
            if (n is not null)
            {
                long rows = (long)t * batch;
                RecurrenceKernels.LayerNormBackward(pDGates + bg, Floats(n.NormalisedIh) + bg, Floats(n.RstdIh) + rows, Floats(n.GammaIh),
                    pDIh + bg, Floats(dGammaIh!), Floats(dBetaIh!), batch, gateWidth);
                RecurrenceKernels.LayerNormBackward(pDGates + bg, Floats(n.NormalisedHh) + bg, Floats(n.RstdHh) + rows, Floats(n.GammaHh),
                    pDHh + bg, Floats(dGammaHh!), Floats(dBetaHh!), batch, gateWidth);
            }
            // dctx = dctx_out + (dIh · W_c) ⊙ mask
            packedContext.Multiply(pDIh + bg, gateWidth, pDContext, context, accumulate: false);
            if (pContextMask is not null) RecurrenceKernels.Multiply(pDContext, pContextMask, pDContext, batch * context);
            RecurrenceKernels.Add(pDContext, pDContextsOut + (long)t * batch * context, pDContext, batch * context);
            RecurrenceKernels.ContextBackward(pAlpha + bs, pValues, pDContext, pDAlpha, pDValues, batch, source, context);

            // dh_prev = (dHh · W_hh) ⊙ mask + what attention sends back through the query
            packedHh.Multiply(pDHh + bg, gateWidth, pDhPrev, hidden, accumulate: false);
            if (pHiddenMask is not null) RecurrenceKernels.Multiply(pDhPrev, pHiddenMask, pDhPrev, batch * hidden);
            if (additive)
            {
                float* dq = pDQueries + (long)t * batch * size;
                RecurrenceKernels.AdditiveAttentionBackward(pAlpha + bs, pDAlpha, pEnergy + bs * size, pScore, pDKeys, dq, pDScore, batch, source, size);
                packedQuery!.Multiply(dq, size, pDhPrev, hidden, accumulate: true);
            }
            else
            {
                RecurrenceKernels.DotAttentionBackward(pAlpha + bs, pDAlpha, pKeys, pH + bh, pDKeys, pDhPrev, batch, source, size);
            }
            next = 1 - next;
        }

        // Weight gradients: one GEMM each over all (time, batch) rows.
        var hIn = s.HiddenMask is null ? s.H : s.H * s.HiddenMask;
        var contextIn = s.ContextMask is null ? s.Contexts : s.Contexts * s.ContextMask;
        var dWeightHh = dHh.reshape(-1, gateWidth).t().mm(hIn.reshape(-1, hidden));
        var dWeightContext = dIh.reshape(-1, gateWidth).t().mm(contextIn.reshape(-1, context));
        var dQueryWeight = dQueries?.reshape(-1, size).t().mm(s.H.reshape(-1, hidden));
        var dHiddenBias = n is not null && n.HasHiddenBias ? dHh.reshape(-1, gateWidth).sum(dim: 0) : null;
        return [dIh, dh[next], dcNext, dValues, dKeys, dWeightHh, dWeightContext, dQueryWeight!, dScore!, null!, null!, null!, null!,
            dHiddenBias!, dGammaIh!, dBetaIh!, dGammaHh!, dBetaHh!, null!];
    }
}
