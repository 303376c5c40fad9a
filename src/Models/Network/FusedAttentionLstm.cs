using TorchSharp;
using static TorchSharp.torch;

namespace Distributed.Models.Network;

/// <summary>
/// The teacher-forced recurrence of a one-layer attention LSTM decoder as one autograd node with a
/// hand-written backward (back-propagation through time). Recording ~25 small ops per time step for
/// autograd dominated the training step; here the forward runs without a graph, and the backward
/// walks the steps once and then computes each weight gradient as a single GEMM over all time steps.
/// Same function as <see cref="Decoder"/>'s step loop (a test compares values and gradients).
/// </summary>
public sealed class FusedAttentionLstm : autograd.MultiTensorFunction<FusedAttentionLstm>
{
    public override string Name => "FusedAttentionLstm";

    /// <summary>
    /// Tops (time, batch, hidden) and contexts (time, batch, encoder) for input projections
    /// <paramref name="inputs"/> (time, batch, 4·hidden) that already hold the embedding part and both biases.
    /// </summary>
    public static (Tensor Tops, Tensor Contexts) Run(Tensor inputs, RnnState initial, DecoderMemory memory, Attention attention,
        Tensor weightHh, Tensor weightContext, Tensor? hiddenMask, Tensor? contextMask)
    {
        var (kind, queryWeight, score) = attention.Parts;
        var outputs = apply(inputs, initial.H, initial.C!, memory.Values, memory.Keys!, weightHh, weightContext,
            queryWeight!, score!, memory.Padding!, kind, hiddenMask!, contextMask!);
        return (outputs[0], outputs[1]);
    }

    sealed record Saved(AttentionKind Kind, Tensor Values, Tensor Keys, Tensor WeightHh, Tensor WeightContext, Tensor? QueryWeight,
        Tensor? Score, Tensor? HiddenMask, Tensor? ContextMask, Tensor H, Tensor C, Tensor Gates, Tensor TanhC, Tensor Alphas,
        Tensor Contexts, Tensor? Energies);

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var h = (Tensor)vars[1];
        var c = (Tensor)vars[2];
        var values = (Tensor)vars[3];
        var keys = (Tensor)vars[4];
        var weightHh = (Tensor)vars[5];
        var weightContext = (Tensor)vars[6];
        var queryWeight = vars[7] as Tensor;
        var score = vars[8] as Tensor;
        var padding = vars[9] as Tensor;
        var kind = (AttentionKind)vars[10];
        var hiddenMask = vars[11] as Tensor;
        var contextMask = vars[12] as Tensor;

        long time = x.shape[0], hidden = h.shape[1];
        var hhT = weightHh.t();
        var contextT = weightContext.t();
        var queryT = queryWeight?.t();
        var hs = new Tensor[time + 1];
        var cs = new Tensor[time + 1];
        var gates = new Tensor[time];
        var tanhC = new Tensor[time];
        var alphas = new Tensor[time];
        var contexts = new Tensor[time];
        var energies = kind == AttentionKind.Additive ? new Tensor[time] : null;
        hs[0] = h;
        cs[0] = c;
        for (long t = 0; t < time; t++)
        {
            var hPrev = hs[t];
            Tensor scores;
            if (kind == AttentionKind.Additive)
            {
                var e = keys + hPrev.mm(queryT!).unsqueeze(1);
                e.mul_(2).sigmoid_().mul_(2).sub_(1); // tanh, see FastTanh
                energies![t] = e;
                scores = e.matmul(score!);
            }
            else
            {
                scores = keys.bmm(hPrev.unsqueeze(2)).squeeze(2);
            }
            if (padding is not null) scores.masked_fill_(padding, float.NegativeInfinity);
            var alpha = scores.softmax(1);
            var context = alpha.unsqueeze(1).bmm(values).squeeze(1);
            alphas[t] = alpha;
            contexts[t] = context;

            var g = torch.addmm(x[t], contextMask is null ? context : context * contextMask, contextT, 1, 1);
            g.addmm_(hiddenMask is null ? hPrev : hPrev * hiddenMask, hhT);
            g.narrow(1, 2 * hidden, hidden).mul_(2);
            g.sigmoid_();
            g.narrow(1, 2 * hidden, hidden).mul_(2).sub_(1);
            gates[t] = g;
            var i = g.narrow(1, 0, hidden);
            var f = g.narrow(1, hidden, hidden);
            var gg = g.narrow(1, 2 * hidden, hidden);
            var o = g.narrow(1, 3 * hidden, hidden);
            var cNext = torch.addcmul(f * cs[t], i, gg, 1);
            var tc = (cNext * 2).sigmoid_().mul_(2).sub_(1);
            cs[t + 1] = cNext;
            tanhC[t] = tc;
            hs[t + 1] = o * tc;
        }

        var tops = stack(hs.Skip(1), 0);
        var contextAll = stack(contexts, 0);
        ctx.save_data("saved", new Saved(kind, values, keys, weightHh, weightContext, queryWeight, score, hiddenMask, contextMask,
            stack(hs.Take((int)time), 0), stack(cs.Take((int)time), 0), stack(gates, 0), stack(tanhC, 0), stack(alphas, 0), contextAll,
            energies is null ? null : stack(energies, 0)));
        return [tops, contextAll];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        var s = (Saved)ctx.get_data("saved");
        var dTops = gradients[0];
        var dContextsOut = gradients[1];
        long time = s.Gates.shape[0], batch = s.Gates.shape[1], hidden = s.H.shape[2];
        long attentionSize = s.Keys.shape[2];
        var dhNext = zeros(batch, hidden);
        var dcNext = zeros(batch, hidden);
        var dGates = empty(time, batch, 4 * hidden);
        var dQueries = s.Kind == AttentionKind.Additive ? empty(time, batch, attentionSize) : null;
        var dKeys = zeros_like(s.Keys);
        var dContexts = empty(time, batch, s.Values.shape[2]);
        var dAllScores = empty(time, batch, s.Values.shape[1]);
        var dScore = s.Score is null ? null : zeros_like(s.Score);

        for (long t = time - 1; t >= 0; t--)
        {
            var act = s.Gates[t];
            var i = act.narrow(1, 0, hidden);
            var f = act.narrow(1, hidden, hidden);
            var g = act.narrow(1, 2 * hidden, hidden);
            var o = act.narrow(1, 3 * hidden, hidden);
            var tc = s.TanhC[t];
            var dh = dTops[t] + dhNext;
            var dhO = dh * o;
            var dc = dcNext + dhO - dhO * tc * tc;
            // Gradient wrt the activated gates, then through σ (i, f, o) or tanh (g).
            var dAct = cat([dc * g, dc * s.C[t], dc * i, dh * tc], 1);
            var dPre = dAct * act * (1 - act);
            dPre.narrow(1, 2 * hidden, hidden).copy_(dAct.narrow(1, 2 * hidden, hidden) * (1 - g * g));
            dGates[t].copy_(dPre);
            dcNext = dc * f;

            var dContextIn = dPre.mm(s.WeightContext);
            var dContext = dContextsOut[t] + (s.ContextMask is null ? dContextIn : dContextIn * s.ContextMask);
            var dhPrev = dPre.mm(s.WeightHh);
            if (s.HiddenMask is not null) dhPrev = dhPrev * s.HiddenMask;

            var alpha = s.Alphas[t];
            var dAlpha = s.Values.bmm(dContext.unsqueeze(2)).squeeze(2);
            dContexts[t].copy_(dContext);
            var dScores = alpha * (dAlpha - (alpha * dAlpha).sum(1, keepdim: true));
            dAllScores[t].copy_(dScores);
            if (s.Kind == AttentionKind.Additive)
            {
                var e = s.Energies![t];
                var dE = dScores.unsqueeze(2) * s.Score!;
                var dEnergy = dE - dE * e * e;
                dKeys.add_(dEnergy);
                var dq = dEnergy.sum(1);
                dQueries![t].copy_(dq);
                dScore!.addmv_(e.reshape(-1, attentionSize).t(), dScores.reshape(-1));
                dhPrev = dhPrev + dq.mm(s.QueryWeight!);
            }
            else
            {
                dhPrev = dhPrev + dScores.unsqueeze(1).bmm(s.Keys).squeeze(1);
            }
            dhNext = dhPrev;
        }

        // Sums over time as one batched GEMM each: dV = Σ_t α_tᵀ dctx_t, and for dot/multiplicative dK = Σ_t dscore_tᵀ h_t.
        var dValues = s.Alphas.permute(1, 2, 0).bmm(dContexts.transpose(0, 1));
        if (s.Kind != AttentionKind.Additive) dKeys = dAllScores.permute(1, 2, 0).bmm(s.H.transpose(0, 1));

        // Weight gradients: one GEMM each over all (time, batch) rows.
        var gatesFlat = dGates.reshape(-1, 4 * hidden);
        var hIn = s.HiddenMask is null ? s.H : s.H * s.HiddenMask;
        var contextIn = s.ContextMask is null ? s.Contexts : s.Contexts * s.ContextMask;
        var dWeightHh = gatesFlat.t().mm(hIn.reshape(-1, hidden));
        var dWeightContext = gatesFlat.t().mm(contextIn.reshape(-1, s.Contexts.shape[2]));
        var dQueryWeight = dQueries is null ? null : dQueries.reshape(-1, attentionSize).t().mm(s.H.reshape(-1, hidden));
        return [dGates, dhNext, dcNext, dValues, dKeys, dWeightHh, dWeightContext, dQueryWeight!, dScore!, null!, null!, null!, null!];
    }
}
