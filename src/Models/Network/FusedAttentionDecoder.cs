using TorchSharp;
using static Distributed.Models.TensorMemory;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>
/// The teacher-forced recurrence of a one-layer attention decoder (LSTM, GRU or tanh-RNN) as one autograd node with a
/// hand-written backward (back-propagation through time). Inside the time loop nothing goes through
/// libtorch's dispatcher: the GEMMs call MKL directly on weights packed once per pass (<see cref="PackedWeight"/>)
/// and the element-wise work (attention scores with their tanh, masked softmax, context, the cell, layer norm)
/// runs as single-pass SIMD kernels (<see cref="RecurrenceKernels"/>, <see cref="FusedCell"/>). Each weight gradient
/// is one GEMM over all time steps. Same function as <see cref="Decoder"/>'s step loop: tests compare values and
/// gradients with autograd.
/// </summary>
public sealed unsafe class FusedAttentionDecoder : autograd.MultiTensorFunction<FusedAttentionDecoder>
{
    public override string Name => "FusedAttentionDecoder";

    /// <summary>
    /// Tops (time, batch, hidden) and contexts (time, batch, encoder) for input projections
    /// <paramref name="inputs"/> (time, batch, gates·hidden) that already hold the embedding part and the input bias.
    /// The input transform is inputs + W_c·ctx (then its layer norm, if any); the hidden transform W_hh·h (+ b_hh, then its norm).
    /// </summary>
    public static (Tensor Tops, Tensor Contexts) Run(CellKind cell, Tensor inputs, RnnState initial, DecoderMemory memory, Attention attention,
        CellWeights weights, Tensor weightContext, Tensor? hiddenMask, Tensor? contextMask)
    {
        var (kind, queryWeight, score) = attention.Parts;
        var outputs = apply(inputs, initial.H, initial.C!, memory.Values, memory.Keys!, weights.HhT.t(), weightContext,
            queryWeight!, score!, memory.Padding!, kind, hiddenMask!, contextMask!,
            weights.HiddenBias!, weights.InputNorm?.weight!, weights.InputNorm?.bias!, weights.HiddenNorm?.weight!, weights.HiddenNorm?.bias!,
            weights.InputNorm?.eps ?? 0.0, cell);
        return (outputs[0], outputs[1]);
    }

    sealed record Saved(FusedCell Cell, AttentionKind Kind, Tensor Values, Tensor Keys, Tensor WeightContext, Tensor? QueryWeight,
        Tensor? Score, Tensor? ContextMask, Tensor Alphas, Tensor Contexts, Tensor? Energies);

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = ((Tensor)vars[0]).contiguous();
        var h0 = (Tensor)vars[1];
        var values = ((Tensor)vars[3]).contiguous();
        var keys = ((Tensor)vars[4]).contiguous();
        var weightContext = (Tensor)vars[6];
        var queryWeight = (vars[7] as Tensor)?.contiguous();
        var score = (vars[8] as Tensor)?.contiguous();
        var padding = (vars[9] as Tensor)?.to(ScalarType.Byte).contiguous();
        var kind = (AttentionKind)vars[10];
        var contextMask = (vars[12] as Tensor)?.contiguous();
        float eps = (float)(double)vars[18];
        NormParts? Norm(int at) => vars[at] is Tensor gamma ? new NormParts(gamma, (Tensor)vars[at + 1], eps) : null;
        var cell = new FusedCell((CellKind)vars[19], x, h0, vars[2] as Tensor, (Tensor)vars[5], vars[13] as Tensor, Norm(14), Norm(16),
            vars[11] as Tensor, null);
        bool additive = kind == AttentionKind.Additive;

        int time = (int)x.shape[0], batch = (int)x.shape[1], hidden = (int)h0.shape[1], width = (int)x.shape[2];
        int source = (int)values.shape[1], context = (int)values.shape[2], size = (int)keys.shape[2];
        var alphas = empty(time, batch, source);
        var contexts = empty(time, batch, context);
        var energies = additive ? empty(time, batch, source, size) : null;
        var scratch = empty(2, batch, Math.Max(size, context));
        float* pAlpha = Floats(alphas), pValues = Floats(values), pContexts = Floats(contexts), pKeys = Floats(keys);
        float* pEnergy = additive ? Floats(energies!) : null, pScore = additive ? Floats(score!) : null;
        float* pContextMask = contextMask is null ? null : Floats(contextMask);
        byte* pPad = padding is null ? null : Bytes(padding);
        float* pQuery = Floats(scratch), pContextIn = pQuery + scratch.shape[1] * scratch.shape[2];

        var (wc, ldWc) = Matrix(weightContext);
        using var packedContext = new PackedWeight((float*)wc, ldWc, batch, width, context, transpose: true);
        using var packedHh = cell.PackForward();
        using var packedQuery = additive ? new PackedWeight(Floats(queryWeight!), hidden, batch, size, hidden, transpose: true) : null;

        for (int t = 0; t < time; t++)
        {
            long bs = (long)t * batch * source;
            float* h = cell.StateAt(t);
            if (additive)
            {
                packedQuery!.Multiply(h, hidden, pQuery, size, accumulate: false);
                RecurrenceKernels.AdditiveAttention(pKeys, pQuery, pScore, pPad, pEnergy + bs * size, pAlpha + bs, batch, source, size);
            }
            else
            {
                RecurrenceKernels.DotAttention(pKeys, h, pPad, pAlpha + bs, batch, source, size);
            }
            float* c = pContexts + (long)t * batch * context, contextIn = c;
            RecurrenceKernels.Context(pAlpha + bs, pValues, c, batch, source, context);
            if (pContextMask is not null) RecurrenceKernels.Multiply(c, pContextMask, contextIn = pContextIn, batch * context);
            packedContext.Multiply(contextIn, context, cell.InputAt(t), width, accumulate: true);
            cell.Forward(t, packedHh);
        }

        ctx.save_data("saved", new Saved(cell, kind, values, keys, weightContext, queryWeight, score, contextMask, alphas, contexts, energies));
        return [cell.States.narrow(0, 1, time), contexts];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        var s = (Saved)ctx.get_data("saved");
        var cell = s.Cell;
        var dTops = gradients[0].contiguous();
        var dContextsOut = gradients[1].contiguous();
        int time = (int)s.Alphas.shape[0], batch = (int)s.Alphas.shape[1], hidden = cell.Hidden;
        int source = (int)s.Values.shape[1], context = (int)s.Values.shape[2], size = (int)s.Keys.shape[2];
        bool additive = s.Kind == AttentionKind.Additive;
        var d = cell.BeginBackward(null, null);
        int width = (int)d.Input.shape[2];
        var dContext = empty(batch, context);
        var dAlpha = empty(batch, source);
        var dValues = zeros_like(s.Values);
        var dKeys = zeros_like(s.Keys);
        var dQueries = additive ? empty(time, batch, size) : null;
        var dScore = additive ? zeros_like(s.Score!) : null;
        float* pDTops = Floats(dTops), pDContextsOut = Floats(dContextsOut), pDInput = Floats(d.Input);
        float* pAlpha = Floats(s.Alphas), pValues = Floats(s.Values), pKeys = Floats(s.Keys), pDValues = Floats(dValues), pDKeys = Floats(dKeys);
        float* pDContext = Floats(dContext), pDAlpha = Floats(dAlpha);
        float* pEnergy = additive ? Floats(s.Energies!) : null, pScore = additive ? Floats(s.Score!) : null;
        float* pDScore = additive ? Floats(dScore!) : null, pDQueries = additive ? Floats(dQueries!) : null;
        float* pContextMask = s.ContextMask is null ? null : Floats(s.ContextMask);

        var (wc, ldWc) = Matrix(s.WeightContext);
        using var packedContext = new PackedWeight((float*)wc, ldWc, batch, context, width, transpose: false);
        using var packedHh = cell.PackBackward();
        using var packedQuery = additive ? new PackedWeight(Floats(s.QueryWeight!), hidden, batch, hidden, size, transpose: false) : null;

        for (int t = time - 1; t >= 0; t--)
        {
            long bs = (long)t * batch * source;
            cell.Backward(t, d, pDTops + (long)t * batch * hidden, packedHh);
            // dctx = dctx_out + (dIh · W_c) ⊙ mask
            packedContext.Multiply(pDInput + (long)t * batch * width, width, pDContext, context, accumulate: false);
            if (pContextMask is not null) RecurrenceKernels.Multiply(pDContext, pContextMask, pDContext, batch * context);
            RecurrenceKernels.Add(pDContext, pDContextsOut + (long)t * batch * context, pDContext, batch * context);
            RecurrenceKernels.ContextBackward(pAlpha + bs, pValues, pDContext, pDAlpha, pDValues, batch, source, context);

            // dh_t also gets what attention sends back through the query
            float* dhPrev = d.StateGradient;
            if (additive)
            {
                float* dq = pDQueries + (long)t * batch * size;
                RecurrenceKernels.AdditiveAttentionBackward(pAlpha + bs, pDAlpha, pEnergy + bs * size, pScore, pDKeys, dq, pDScore, batch, source, size);
                packedQuery!.Multiply(dq, size, dhPrev, hidden, accumulate: true);
            }
            else
            {
                RecurrenceKernels.DotAttentionBackward(pAlpha + bs, pDAlpha, pKeys, cell.StateAt(t), pDKeys, dhPrev, batch, source, size);
            }
        }

        // Weight gradients: one GEMM each over all (time, batch) rows.
        var h = cell.States.narrow(0, 0, time);
        var contextIn = s.ContextMask is null ? s.Contexts : s.Contexts * s.ContextMask;
        var (dWeightHh, dHiddenBias) = cell.HiddenWeightGradients(d);
        var dWeightContext = d.Input.reshape(-1, width).t().mm(contextIn.reshape(-1, context));
        var dQueryWeight = dQueries?.reshape(-1, size).t().mm(h.reshape(-1, hidden));
        var (dGammaIh, dBetaIh, dGammaHh, dBetaHh) = cell.NormGradients(d);
        return [d.Input, d.InitialState(), d.Cell!, dValues, dKeys, dWeightHh, dWeightContext, dQueryWeight!, dScore!, null!, null!, null!, null!,
            dHiddenBias!, dGammaIh!, dBetaIh!, dGammaHh!, dBetaHh!, null!, null!];
    }
}
