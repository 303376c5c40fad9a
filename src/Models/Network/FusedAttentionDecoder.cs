using TorchSharp;
using static Distributed.Models.TensorMemory;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>
/// The training recurrence of an attention decoder (LSTM, GRU or tanh-RNN; one layer or a stack with residuals,
/// inter-layer and recurrent dropout; teacher-forced or with scheduled sampling, <see cref="TokenSampler"/>) as one
/// autograd node with a hand-written backward (back-propagation through time). Inside the time loop nothing goes
/// through libtorch's dispatcher: the GEMMs call MKL directly on weights packed once per pass (<see cref="PackedWeight"/>)
/// and the element-wise work (attention scores with their tanh, masked softmax, context, the cells, layer norm) runs
/// as single-pass SIMD kernels (<see cref="RecurrenceKernels"/>, <see cref="FusedCell"/>). Each weight gradient is one
/// GEMM over all time steps. Same function as <see cref="Decoder"/>'s step loop: tests compare values and gradients
/// with autograd.
/// </summary>
public sealed unsafe class FusedAttentionDecoder : autograd.MultiTensorFunction<FusedAttentionDecoder>
{
    public override string Name => "FusedAttentionDecoder";

    const int Common = 22, PerLayer = 13;

    /// <summary>
    /// Tops (time, batch, hidden) and contexts (time, batch, encoder) for input projections <paramref name="inputs"/>
    /// (time, batch, gates·hidden) that already hold the first layer's embedding part and input bias. The first layer's
    /// input transform is inputs + W_c·ctx, the others' W_ih·(x ⊙ dropout ⊙ mask) + b_ih (then each one's layer norm, if
    /// any); every hidden transform is W_hh·(h ⊙ mask) (+ b_hh, then its norm). Attention reads the top layer's state.
    /// <paramref name="dropouts"/>[l] is layer l's inter-layer dropout mask (time, batch, hidden) or null (index 0 unused).
    /// </summary>
    public static (Tensor Tops, Tensor Contexts) Run(CellKind cell, bool residual, Tensor inputs, RnnState[] initial, DecoderMemory memory,
        Attention attention, CellWeights[] weights, Tensor weightContext, SequenceMasks[]? masks, Tensor?[]? dropouts, Tensor? contextMask)
        => Apply(cell, residual, inputs, initial, memory, attention, weights, weightContext, masks, dropouts, contextMask, null);

    /// <summary>
    /// Scheduled sampling: as <see cref="Run"/>, but each step's input token is, where <see cref="Sampling.UseTruth"/> says
    /// so, the ground truth, and otherwise the argmax of the previous step's logits, computed inside the loop with the
    /// output layer and its dropout mask. The first layer's embedding part (E[token] ⊙ mask)·W_eᵀ + b runs in the loop too.
    /// </summary>
    public static (Tensor Tops, Tensor Contexts) Sample(CellKind cell, bool residual, RnnState[] initial, DecoderMemory memory,
        Attention attention, CellWeights[] weights, Tensor weightContext, SequenceMasks[]? masks, Tensor?[]? dropouts, Tensor? contextMask,
        Sampling sampling) =>
        Apply(cell, residual, null, initial, memory, attention, weights, weightContext, masks, dropouts, contextMask, sampling);

    /// <summary>
    /// What scheduled sampling needs inside the loop: the embedding table, the embedding part of the first layer's W_ih
    /// (width, embedding) and its input bias, the embedding's mask (time, batch, embedding) or null, the ground truth and
    /// where to use it (time, batch), and the output layer with its dropout mask (time, batch, features) or null.
    /// </summary>
    public sealed record Sampling(Tensor Embedding, Tensor EmbeddingWeight, Tensor InputBias, Tensor? EmbeddingMask, Tensor Truth,
        Tensor UseTruth, Tensor OutputWeight, Tensor OutputBias, Tensor? OutputMask);

    static (Tensor Tops, Tensor Contexts) Apply(CellKind cell, bool residual, Tensor? inputs, RnnState[] initial, DecoderMemory memory,
        Attention attention, CellWeights[] weights, Tensor weightContext, SequenceMasks[]? masks, Tensor?[]? dropouts, Tensor? contextMask,
        Sampling? sampling)
    {
        var (kind, queryWeight, score) = attention.Parts;
        var w = weights[0];
        var vars = new List<object>
        {
            inputs!, initial[0].H, initial[0].C!, memory.Values, memory.Keys!, w.HhT.t(), weightContext, queryWeight!, score!,
            memory.Padding!, kind, masks?[0].Hidden[0]!, contextMask!, w.HiddenBias!, w.InputNorm?.weight!, w.InputNorm?.bias!,
            w.HiddenNorm?.weight!, w.HiddenNorm?.bias!, w.InputNorm?.eps ?? w.HiddenNorm?.eps ?? 0.0, cell, residual, weights.Length - 1,
        };
        for (int l = 1; l < weights.Length; l++)
        {
            w = weights[l];
            vars.AddRange([initial[l].H, initial[l].C!, w.Ih, w.InputBias, w.HhT.t(), w.HiddenBias!, w.InputNorm?.weight!,
                w.InputNorm?.bias!, w.HiddenNorm?.weight!, w.HiddenNorm?.bias!, masks?[l].Input[0]!, masks?[l].Hidden[0]!, dropouts?[l]!]);
        }
        if (sampling is not null)
            vars.AddRange([sampling.Embedding, sampling.EmbeddingWeight, sampling.InputBias, sampling.EmbeddingMask!, sampling.Truth,
                sampling.UseTruth, sampling.OutputWeight, sampling.OutputBias, sampling.OutputMask!]);
        var outputs = apply([.. vars]);
        return (outputs[0], outputs[1]);
    }

    // A layer above the first: its cell, its input before W_ih (x ⊙ dropout ⊙ mask) and its output x + h where residual.
    sealed unsafe class Upper(FusedCell cell, Tensor inputWeight, Tensor? inputMask, Tensor? dropout, Tensor ins, Tensor outs)
    {
        public FusedCell Cell => cell;
        public Tensor InputWeight => inputWeight;
        public Tensor? InputMask => inputMask;
        public Tensor? Dropout => dropout;
        public Tensor Ins => ins;
        public Tensor Outs => outs;
        // Looked up once (the tensors above keep the memory alive): the steps would otherwise ask libtorch for them several times each.
        public readonly float* PIns = Floats(ins), POuts = Floats(outs);
        public readonly float* PInputMask = inputMask is null ? null : Floats(inputMask), PDropout = dropout is null ? null : Floats(dropout);
    }

    sealed record Saved(FusedCell Cell, Upper[] Uppers, bool Residual, AttentionKind Kind, Tensor Values, Tensor Keys, Tensor WeightContext,
        Tensor? QueryWeight, Tensor? Score, Tensor? ContextMask, Tensor Alphas, Tensor Contexts, Tensor? Energies, Sampled? Sampled);


    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
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
        var cellKind = (CellKind)vars[19];
        bool residual = (bool)vars[20];
        int upperCount = (int)vars[21];
        NormParts? Norm(int at) => vars[at] is Tensor gamma ? new NormParts(gamma, (Tensor)vars[at + 1], eps) : null;
        int sampleAt = Common + upperCount * PerLayer;
        var sampling = vars.Length > sampleAt
            ? new Sampling((Tensor)vars[sampleAt], (Tensor)vars[sampleAt + 1], (Tensor)vars[sampleAt + 2], vars[sampleAt + 3] as Tensor,
                (Tensor)vars[sampleAt + 4], (Tensor)vars[sampleAt + 5], (Tensor)vars[sampleAt + 6], (Tensor)vars[sampleAt + 7], vars[sampleAt + 8] as Tensor)
            : null;
        int time = sampling is not null ? (int)sampling.Truth.shape[0] : (int)((Tensor)vars[0]).shape[0];
        int batch = (int)h0.shape[0], hidden = (int)h0.shape[1], width = (int)((Tensor)vars[5]).shape[0];
        // Sampling: the input transform starts as the bias, and the loop adds the chosen tokens' embedding part.
        var x = sampling is not null ? sampling.InputBias.expand(time, batch, width) : ((Tensor)vars[0]).contiguous();
        var cell = new FusedCell(cellKind, x, h0, vars[2] as Tensor, (Tensor)vars[5], vars[13] as Tensor, Norm(14), Norm(16),
            vars[11] as Tensor, null);
        bool additive = kind == AttentionKind.Additive;

        int source = (int)values.shape[1], context = (int)values.shape[2], size = (int)keys.shape[2];
        var uppers = new Upper[upperCount];
        for (int u = 0; u < upperCount; u++)
        {
            int at = Common + u * PerLayer;
            var inputBias = ((Tensor)vars[at + 3]).contiguous();
            // The input transform starts as the bias; the loop adds W_ih·input once the layer below has run.
            var start = inputBias.expand(time, batch, width);
            var upper = new FusedCell(cellKind, start, (Tensor)vars[at], vars[at + 1] as Tensor, (Tensor)vars[at + 4], vars[at + 5] as Tensor,
                Norm(at + 6), Norm(at + 8), vars[at + 11] as Tensor, null);
            uppers[u] = new Upper(upper, ((Tensor)vars[at + 2]).contiguous(), (vars[at + 10] as Tensor)?.contiguous(),
                (vars[at + 12] as Tensor)?.contiguous(), empty(time, batch, hidden), empty(time, batch, hidden));
        }
        var top = upperCount == 0 ? cell : uppers[^1].Cell;
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
        var packedUpper = uppers.Select(u => (Ih: new PackedWeight(Floats(u.InputWeight), hidden, batch, width, hidden, transpose: true),
            Hh: u.Cell.PackForward())).ToArray();
        using var sampler = sampling is null ? null : new TokenSampler(sampling, batch, width, hidden, context);
        try
        {
            for (int t = 0; t < time; t++)
            {
                long bs = (long)t * batch * source, bh = (long)t * batch * hidden;
                sampler?.Embed(t, cell.InputAt(t));
                float* h = top.StateAt(t);
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

                float* below = cell.OutputAt(t);
                for (int u = 0; u < upperCount; u++)
                {
                    var upper = uppers[u];
                    float* input = upper.PIns + bh, output = upper.POuts + bh;
                    new Span<float>(below, batch * hidden).CopyTo(new Span<float>(input, batch * hidden));
                    if (upper.PDropout is not null) RecurrenceKernels.Multiply(input, upper.PDropout + bh, input, batch * hidden);
                    if (upper.PInputMask is not null) RecurrenceKernels.Multiply(input, upper.PInputMask, input, batch * hidden);
                    packedUpper[u].Ih.Multiply(input, hidden, upper.Cell.InputAt(t), width, accumulate: true);
                    upper.Cell.Forward(t, packedUpper[u].Hh);
                    float* h1 = upper.Cell.OutputAt(t);
                    if (residual) RecurrenceKernels.Add(h1, below, output, batch * hidden);
                    else new Span<float>(h1, batch * hidden).CopyTo(new Span<float>(output, batch * hidden));
                    below = output;
                }
                sampler?.Predict(t, below, c);
            }
        }
        finally
        {
            foreach (var (ih, hh) in packedUpper)
            {
                ih.Dispose();
                hh.Dispose();
            }
        }

        ctx.save_data("saved", new Saved(cell, uppers, residual, kind, values, keys, weightContext, queryWeight, score, contextMask,
            alphas, contexts, energies, sampler?.Record()));
        return [upperCount == 0 ? cell.Outputs : uppers[^1].Outs, contexts];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        var s = (Saved)ctx.get_data("saved");
        var cell = s.Cell;
        var top = s.Uppers.Length == 0 ? cell : s.Uppers[^1].Cell;
        var dTops = gradients[0].contiguous();
        var dContextsOut = gradients[1].contiguous();
        int time = (int)s.Alphas.shape[0], batch = (int)s.Alphas.shape[1], hidden = cell.Hidden;
        int source = (int)s.Values.shape[1], context = (int)s.Values.shape[2], size = (int)s.Keys.shape[2];
        bool additive = s.Kind == AttentionKind.Additive;
        var d = cell.BeginBackward(null, null);
        var dUpper = s.Uppers.Select(u => u.Cell.BeginBackward(null, null)).ToArray();
        var dTop = dUpper.Length == 0 ? d : dUpper[^1];
        int width = (int)d.Input.shape[2];
        var dContext = empty(batch, context);
        var dAlpha = empty(batch, source);
        var dValues = zeros_like(s.Values);
        var dKeys = zeros_like(s.Keys);
        var dQueries = additive ? empty(time, batch, size) : null;
        var dScore = additive ? zeros_like(s.Score!) : null;
        var dBelow = empty(2, batch, hidden); // the gradient wrt a layer's input, alternating as it goes down the stack
        float* pDTops = Floats(dTops), pDContextsOut = Floats(dContextsOut), pDInput = Floats(d.Input), pDBelow = Floats(dBelow);
        float* pAlpha = Floats(s.Alphas), pValues = Floats(s.Values), pKeys = Floats(s.Keys), pDValues = Floats(dValues), pDKeys = Floats(dKeys);
        float* pDContext = Floats(dContext), pDAlpha = Floats(dAlpha);
        float* pEnergy = additive ? Floats(s.Energies!) : null, pScore = additive ? Floats(s.Score!) : null;
        float* pDScore = additive ? Floats(dScore!) : null, pDQueries = additive ? Floats(dQueries!) : null;
        float* pContextMask = s.ContextMask is null ? null : Floats(s.ContextMask);

        var (wc, ldWc) = Matrix(s.WeightContext);
        using var packedContext = new PackedWeight((float*)wc, ldWc, batch, context, width, transpose: false);
        using var packedHh = cell.PackBackward();
        using var packedQuery = additive ? new PackedWeight(Floats(s.QueryWeight!), hidden, batch, hidden, size, transpose: false) : null;
        var packedUpper = s.Uppers.Select(u => (Ih: new PackedWeight(Floats(u.InputWeight), hidden, batch, hidden, width, transpose: false),
            Hh: u.Cell.PackBackward())).ToArray();
        try
        {
            for (int t = time - 1; t >= 0; t--)
            {
                long bs = (long)t * batch * source, bh = (long)t * batch * hidden;
                float* g = pDTops + bh;
                for (int u = s.Uppers.Length - 1; u >= 0; u--)
                {
                    var upper = s.Uppers[u];
                    upper.Cell.Backward(t, dUpper[u], g, packedUpper[u].Hh);
                    // The input's gradient: back through W_ih and the masks, plus the residual's copy of g.
                    float* next = pDBelow + (long)(u & 1) * batch * hidden;
                    packedUpper[u].Ih.Multiply(dUpper[u].PInput + (long)t * batch * width, width, next, hidden, accumulate: false);
                    if (upper.PInputMask is not null) RecurrenceKernels.Multiply(next, upper.PInputMask, next, batch * hidden);
                    if (upper.PDropout is not null) RecurrenceKernels.Multiply(next, upper.PDropout + bh, next, batch * hidden);
                    if (s.Residual) RecurrenceKernels.Add(next, g, next, batch * hidden);
                    g = next;
                }
                cell.Backward(t, d, g, packedHh);
                // dctx = dctx_out + (dIh · W_c) ⊙ mask
                packedContext.Multiply(pDInput + (long)t * batch * width, width, pDContext, context, accumulate: false);
                if (pContextMask is not null) RecurrenceKernels.Multiply(pDContext, pContextMask, pDContext, batch * context);
                RecurrenceKernels.Add(pDContext, pDContextsOut + (long)t * batch * context, pDContext, batch * context);
                RecurrenceKernels.ContextBackward(pAlpha + bs, pValues, pDContext, pDAlpha, pDValues, batch, source, context);

                // The top layer's h_t also gets what attention sends back through the query
                float* dhTop = dTop.StateGradient;
                if (additive)
                {
                    float* dq = pDQueries + (long)t * batch * size;
                    RecurrenceKernels.AdditiveAttentionBackward(pAlpha + bs, pDAlpha, pEnergy + bs * size, pScore, pDKeys, dq, pDScore, batch, source, size);
                    packedQuery!.Multiply(dq, size, dhTop, hidden, accumulate: true);
                }
                else
                {
                    RecurrenceKernels.DotAttentionBackward(pAlpha + bs, pDAlpha, pKeys, top.StateAt(t), pDKeys, dhTop, batch, source, size);
                }
            }
        }
        finally
        {
            foreach (var (ih, hh) in packedUpper)
            {
                ih.Dispose();
                hh.Dispose();
            }
        }

        // Weight gradients: one GEMM each over all (time, batch) rows.
        var contextIn = s.ContextMask is null ? s.Contexts : s.Contexts * s.ContextMask;
        var (dWeightHh, dHiddenBias) = cell.HiddenWeightGradients(d);
        var dWeightContext = d.Input.reshape(-1, width).t().mm(contextIn.reshape(-1, context));
        var dQueryWeight = dQueries?.reshape(-1, size).t().mm(top.States.narrow(0, 0, time).reshape(-1, hidden));
        var (dGammaIh, dBetaIh, dGammaHh, dBetaHh) = cell.NormGradients(d);
        List<Tensor>? sampledGradients = null;
        var result = new List<Tensor>
        {
            d.Input, d.InitialState(), d.Cell!, dValues, dKeys, dWeightHh, dWeightContext, dQueryWeight!, dScore!, null!, null!, null!, null!,
            dHiddenBias!, dGammaIh!, dBetaIh!, dGammaHh!, dBetaHh!, null!, null!, null!, null!,
        };
        if (s.Sampled is { } sampled)
        {
            // The embedding part ran inside the loop: its weight, bias and table get the first layer's input gradient.
            var dInput = d.Input.reshape(-1, width);
            var dEmbedded = dInput.mm(sampled.EmbeddingWeight).reshape(sampled.Embedded.shape);
            if (sampled.EmbeddingMask is not null) dEmbedded = dEmbedded * sampled.EmbeddingMask;
            var dTable = zeros(sampled.Vocabulary, sampled.Embedded.shape[2])
                .index_add_(0, sampled.Tokens.reshape(-1), dEmbedded.reshape(-1, sampled.Embedded.shape[2]), 1);
            result[0] = null!;
            sampledGradients = [dTable, dInput.t().mm(sampled.Embedded.reshape(-1, sampled.Embedded.shape[2])), dInput.sum(dim: 0),
                null!, null!, null!, null!, null!, null!];
        }
        for (int u = 0; u < s.Uppers.Length; u++)
        {
            var du = dUpper[u];
            var dInput = du.Input.reshape(-1, width);
            var (dUpperHh, dUpperHiddenBias) = s.Uppers[u].Cell.HiddenWeightGradients(du);
            var (gIh, bIh, gHh, bHh) = s.Uppers[u].Cell.NormGradients(du);
            result.AddRange([du.InitialState(), du.Cell!, dInput.t().mm(s.Uppers[u].Ins.reshape(-1, hidden)), dInput.sum(dim: 0),
                dUpperHh, dUpperHiddenBias!, gIh!, bIh!, gHh!, bHh!, null!, null!, null!]);
        }
        if (sampledGradients is not null) result.AddRange(sampledGradients);
        return result;
    }
}
