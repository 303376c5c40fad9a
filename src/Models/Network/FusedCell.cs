using static Distributed.Models.TensorMemory;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>A layer norm's parameters inside a fused recurrence.</summary>
public sealed record NormParts(Tensor Gamma, Tensor Beta, float Eps);

/// <summary>
/// One recurrent cell run over a whole sequence inside a fused autograd node (<see cref="FusedRecurrentLayer"/>,
/// <see cref="FusedAttentionDecoder"/>), for any cell: per step the hidden transform through a packed W_hh, the
/// optional layer norms of the input and hidden transforms, and the cell (<see cref="CellKernels"/>); backward
/// through time the same in reverse, keeping every step's transform gradients so each weight gradient is one GEMM.
/// The caller writes step t's input transform into <see cref="InputAt"/> before <see cref="Forward"/>.
/// </summary>
public sealed unsafe class FusedCell
{
    readonly CellKind kind;
    readonly int time, batch, hidden, width;
    // Run from the last step to the first (a bidirectional layer's backward direction), in place of flipping the
    // sequence in and the outputs back: states stay in time order, h_t's successor written at t, the start at time.
    readonly bool reverse;
    // h_0 (and c_0) are zeros the caller made, wanted by nothing upstream (an encoder layer's start): the first step
    // multiplies nothing by W_hh, the last backward step sends no gradient to them, and dW_hh skips their rows.
    readonly bool zeroStart;
    readonly Tensor weightHh;                  // (width, hidden)
    readonly Tensor? hiddenBias, hiddenMask, valid;
    readonly NormParts? inputNorm, hiddenNorm;
    readonly Tensor hs;                        // h_0 … h_T
    readonly Tensor? cs, tanhC;                // LSTM: c_0 … c_T, tanh(c_1 … c_T)
    readonly Tensor gates;                     // the input transform of each step, then the cell's activations
    readonly Tensor? hh;                       // the hidden transform as the cell saw it, where it is not summed into the gates
    readonly Tensor? inputXhat, inputRstd, hiddenXhat, hiddenRstd;
    readonly Tensor scratch;                   // rows: masked h, hidden transform before its norm, input transform before its norm
    bool SeparateHidden => kind == CellKind.Gru || hiddenNorm is not null || hiddenBias is not null;
    // The tensors' memory, looked up once: a lookup is several native calls, and the steps make dozens.
    readonly float* pGates, pHs, pCs, pTanhC, pHh, pScratch, pBias, pMask, pInXhat, pInRstd, pHidXhat, pHidRstd;
    readonly float* pInGamma, pInBeta, pHidGamma, pHidBeta;
    readonly byte* pValid;

    /// <summary>
    /// <paramref name="inputs"/> (time, batch, width) holds every step's input transform, or the part known before the
    /// loop (overwritten when <paramref name="ownsInputs"/>); <paramref name="weightHh"/> is (width, hidden); <paramref name="valid"/> (time, batch) is 0 where a padded
    /// step carries the state; <paramref name="c0"/> only for an LSTM. With <paramref name="reverse"/> the steps run
    /// from the last to the first. With <paramref name="zeroStart"/> h0 and c0 are zeros that need no gradient: theirs
    /// comes back zero.
    /// </summary>
    public FusedCell(CellKind kind, Tensor inputs, Tensor h0, Tensor? c0, Tensor weightHh, Tensor? hiddenBias, NormParts? inputNorm,
        NormParts? hiddenNorm, Tensor? hiddenMask, Tensor? valid, bool ownsInputs = false, bool reverse = false, bool zeroStart = false)
    {
        this.kind = kind;
        this.reverse = reverse;
        this.zeroStart = zeroStart;
        time = (int)inputs.shape[0];
        batch = (int)inputs.shape[1];
        hidden = (int)h0.shape[1];
        width = (int)inputs.shape[2];
        this.weightHh = weightHh.contiguous();
        this.hiddenBias = hiddenBias?.contiguous();
        this.hiddenMask = hiddenMask?.contiguous();
        this.valid = valid?.to(ScalarType.Byte).contiguous();
        this.inputNorm = inputNorm is null ? null : inputNorm with { Gamma = inputNorm.Gamma.contiguous(), Beta = inputNorm.Beta.contiguous() };
        this.hiddenNorm = hiddenNorm is null ? null : hiddenNorm with { Gamma = hiddenNorm.Gamma.contiguous(), Beta = hiddenNorm.Beta.contiguous() };
        hs = empty(time + 1, batch, hidden);
        hs[reverse ? time : 0].copy_(h0);
        if (kind == CellKind.Lstm)
        {
            cs = empty(time + 1, batch, hidden);
            cs[reverse ? time : 0].copy_(c0!);
            tanhC = empty(time, batch, hidden);
        }
        // Written into: the inputs themselves when handed over, else a copy made once (an expanded bias start is
        // materialised by contiguous() alone).
        gates = !inputs.is_contiguous() ? inputs.contiguous() : ownsInputs ? inputs : inputs.clone();
        hh = kind == CellKind.Gru ? empty(time, batch, width) : null;
        if (inputNorm is not null) (inputXhat, inputRstd) = (empty(time, batch, width), empty(time, batch));
        if (hiddenNorm is not null) (hiddenXhat, hiddenRstd) = (empty(time, batch, width), empty(time, batch));
        scratch = empty(3, batch, width);
        pGates = Floats(gates);
        pHs = Floats(hs);
        pScratch = Floats(scratch);
        pCs = Maybe(cs);
        pTanhC = Maybe(tanhC);
        pHh = Maybe(hh);
        pBias = Maybe(this.hiddenBias);
        pMask = Maybe(this.hiddenMask);
        pValid = this.valid is null ? null : Bytes(this.valid);
        pInXhat = Maybe(inputXhat);
        pInRstd = Maybe(inputRstd);
        pHidXhat = Maybe(hiddenXhat);
        pHidRstd = Maybe(hiddenRstd);
        pInGamma = Maybe(this.inputNorm?.Gamma);
        pInBeta = Maybe(this.inputNorm?.Beta);
        pHidGamma = Maybe(this.hiddenNorm?.Gamma);
        pHidBeta = Maybe(this.hiddenNorm?.Beta);
    }

    static float* Maybe(Tensor? t) => t is null ? null : Floats(t);

    public int Hidden => hidden;

    /// <summary>h_0 … h_T (time + 1, batch, hidden); run in reverse, the state after step t at t and the start at time.</summary>
    public Tensor States => hs;

    /// <summary>Each step's output (time, batch, hidden), in time order either way.</summary>
    public Tensor Outputs => hs.narrow(0, reverse ? 0 : 1, time);

    /// <summary>The state each step starts from (time, batch, hidden), in time order.</summary>
    Tensor Inputs => hs.narrow(0, reverse ? 1 : 0, time);

    /// <summary>The last state: h after the last step run.</summary>
    public Tensor FinalState => hs[reverse ? 0 : time];

    /// <summary>c after the last step run, for an LSTM.</summary>
    public Tensor? FinalCell => cs?[reverse ? 0 : time];

    /// <summary>The time index of the <paramref name="s"/>-th step run: forward passes run s = 0, 1, …, backward passes s = time − 1, …, 0.</summary>
    public int StepAt(int s) => reverse ? time - 1 - s : s;

    int Before(int t) => reverse ? t + 1 : t;

    /// <summary>Whether step t starts from the known zero state (and so needs no W_hh product either way).</summary>
    bool FromZero(int t) => zeroStart && t == StepAt(0);

    int After(int t) => reverse ? t : t + 1;

    /// <summary>Row <paramref name="index"/> (batch, hidden) of a states tensor, h or c.</summary>
    float* Row(float* states, int index) => states + (long)index * batch * hidden;

    /// <summary>Step t's input transform (batch, width), before its norm: the caller adds into it before <see cref="Forward"/>.</summary>
    public float* InputAt(int t) => pGates + (long)t * batch * width;

    /// <summary>(batch, hidden): the state step t starts from.</summary>
    public float* StateAt(int t) => Row(pHs, Before(t));

    /// <summary>(batch, hidden): the state step t ends with, its output.</summary>
    public float* OutputAt(int t) => Row(pHs, After(t));

    /// <summary>W_hh packed for the forward pass (x·W_hhᵀ); the caller disposes it.</summary>
    public PackedWeight PackForward() => new(Floats(weightHh), hidden, batch, width, hidden, transpose: true);

    /// <summary>W_hh packed for the backward pass (dx·W_hh).</summary>
    public PackedWeight PackBackward() => new(Floats(weightHh), hidden, batch, hidden, width, transpose: false);

    /// <summary>Runs step t: h_{t+1} (and c_{t+1}) from h_t and the input transform at <see cref="InputAt"/>(t).</summary>
    public void Forward(int t, PackedWeight packedHh)
    {
        long rows = (long)t * batch, span = (long)batch * width;
        float* g = InputAt(t), row0 = pScratch, row1 = row0 + span, row2 = row1 + span;
        float* h = StateAt(t), hNext = OutputAt(t);
        byte* v = pValid is null ? null : pValid + rows;
        if (inputNorm is not null)
        {
            new Span<float>(g, (int)span).CopyTo(new Span<float>(row2, (int)span));
            new Span<float>(g, (int)span).Clear();
            RecurrenceKernels.LayerNormAdd(row2, pInGamma, pInBeta, inputNorm.Eps, g,
                pInXhat + rows * width, pInRstd + rows, batch, width);
        }
        float* hIn = h;
        if (hiddenMask is not null) RecurrenceKernels.Multiply(h, pMask, hIn = row0, batch * hidden);
        if (SeparateHidden)
        {
            float* target = kind == CellKind.Gru ? pHh + rows * width : g;
            float* pre = hiddenNorm is null && kind == CellKind.Gru ? target : row1;
            for (int b = 0; hiddenBias is not null && b < batch; b++)
                new Span<float>(pBias, width).CopyTo(new Span<float>(pre + (long)b * width, width));
            if (!FromZero(t)) packedHh.Multiply(hIn, hidden, pre, width, accumulate: hiddenBias is not null);
            else if (hiddenBias is null) new Span<float>(pre, (int)span).Clear();
            if (hiddenNorm is not null)
            {
                if (kind == CellKind.Gru) new Span<float>(target, (int)span).Clear();
                RecurrenceKernels.LayerNormAdd(pre, pHidGamma, pHidBeta, hiddenNorm.Eps, target,
                    pHidXhat + rows * width, pHidRstd + rows, batch, width);
            }
            else if (kind != CellKind.Gru)
            {
                RecurrenceKernels.Add(g, pre, g, (int)span);
            }
        }
        else if (!FromZero(t))
        {
            packedHh.Multiply(hIn, hidden, g, width, accumulate: true);
        }
        switch (kind)
        {
            case CellKind.Lstm:
                CellKernels.LstmCell(g, Row(pCs, Before(t)), Row(pCs, After(t)), Row(pTanhC, t), hNext, batch, hidden, h, v);
                break;
            case CellKind.Gru:
                CellKernels.GruCell(g, pHh + rows * width, h, hNext, batch, hidden, v);
                break;
            default:
                CellKernels.TanhCell(g, h, hNext, batch, hidden, v);
                break;
        }
    }

    /// <summary>The gradients of one backward pass through time; <see cref="Backward"/> fills them step by step.</summary>
    public sealed class Gradients
    {
        internal Tensor Dh = null!;          // dh_next and dh_prev, alternating
        internal int Next;
        internal Tensor? Dc, Pass;
        internal Tensor InputPost = null!, HiddenPost = null!;

        /// <summary>(time, batch, width): wrt each step's input transform before its norm.</summary>
        public Tensor Input { get; internal set; } = null!;

        /// <summary>(time, batch, width): wrt each step's hidden transform before its norm.</summary>
        public Tensor HiddenTransform { get; internal set; } = null!;

        internal Tensor? InputGamma, InputBeta, HiddenGamma, HiddenBeta;
        // Their memory, looked up once by BeginBackward.
        internal float* PDh, PDc, PPass, PInputPost, PHiddenPost, PInput, PHiddenTransform, PInputGamma, PInputBeta, PHiddenGamma, PHiddenBeta;
        internal long StateSize;

        /// <summary>(batch, hidden): wrt h_t after the last <see cref="Backward"/>(t); the caller may add into it.</summary>
        public float* StateGradient => PDh + Next * StateSize;

        /// <summary>wrt h_0 once the pass is done.</summary>
        public Tensor InitialState() => Dh[Next].clone();

        /// <summary>wrt c_0 (LSTM) once the pass is done.</summary>
        public Tensor? Cell => Dc;
    }

    /// <summary>Starts a backward pass from the gradients of h_T and c_T (null: zero).</summary>
    public Gradients BeginBackward(Tensor? dhFinal, Tensor? dcFinal)
    {
        var d = new Gradients { Dh = zeros(2, batch, hidden) };
        if (dhFinal is not null) d.Dh[0].copy_(dhFinal);
        if (kind == CellKind.Lstm) d.Dc = dcFinal is null ? zeros(batch, hidden) : dcFinal.contiguous().clone();
        if (kind == CellKind.Gru || valid is not null) d.Pass = empty(batch, hidden);
        d.InputPost = empty(time, batch, width);
        d.HiddenPost = kind == CellKind.Gru ? empty(time, batch, width) : d.InputPost;
        d.Input = inputNorm is null ? d.InputPost : empty(time, batch, width);
        d.HiddenTransform = hiddenNorm is null ? d.HiddenPost : empty(time, batch, width);
        if (inputNorm is not null) (d.InputGamma, d.InputBeta) = (zeros(width), zeros(width));
        if (hiddenNorm is not null) (d.HiddenGamma, d.HiddenBeta) = (zeros(width), zeros(width));
        d.PDh = Floats(d.Dh);
        d.PDc = Maybe(d.Dc);
        d.PPass = Maybe(d.Pass);
        d.StateSize = (long)batch * hidden;
        d.PInputPost = Floats(d.InputPost);
        d.PHiddenPost = Floats(d.HiddenPost);
        d.PInput = Floats(d.Input);
        d.PHiddenTransform = Floats(d.HiddenTransform);
        d.PInputGamma = Maybe(d.InputGamma);
        d.PInputBeta = Maybe(d.InputBeta);
        d.PHiddenGamma = Maybe(d.HiddenGamma);
        d.PHiddenBeta = Maybe(d.HiddenBeta);
        return d;
    }

    /// <summary>
    /// Step t backward: from dTop (batch, hidden) at h_{t+1} plus what later steps sent back, the gradients of step t's
    /// transforms, and the gradient wrt h_t in <see cref="Gradients.StateGradient"/>.
    /// </summary>
    public void Backward(int t, Gradients d, float* dTop, PackedWeight packedHh)
    {
        long rows = (long)t * batch, bw = rows * width;
        float* dhNext = d.PDh + d.Next * d.StateSize, dhPrev = d.PDh + (1 - d.Next) * d.StateSize;
        float* dIh = d.PInputPost + bw, dHh = d.PHiddenPost + bw, g = pGates + bw;
        float* pass = d.PPass;
        byte* v = pValid is null ? null : pValid + rows;
        switch (kind)
        {
            case CellKind.Lstm:
                CellKernels.LstmCellBackward(g, Row(pTanhC, t), Row(pCs, Before(t)), dTop, dhNext, d.PDc, dIh, batch, hidden, v, pass);
                break;
            case CellKind.Gru:
                CellKernels.GruCellBackward(g, pHh + bw, StateAt(t), dTop, dhNext, dIh, dHh, pass, batch, hidden, v);
                break;
            default:
                CellKernels.TanhCellBackward(g, dTop, dhNext, dIh, batch, hidden, v, pass);
                break;
        }
        if (inputNorm is not null)
            RecurrenceKernels.LayerNormBackward(dIh, pInXhat + bw, pInRstd + rows, pInGamma,
                d.PInput + bw, d.PInputGamma, d.PInputBeta, batch, width);
        float* dTransform = dHh;
        if (hiddenNorm is not null)
        {
            dTransform = d.PHiddenTransform + bw;
            RecurrenceKernels.LayerNormBackward(dHh, pHidXhat + bw, pHidRstd + rows, pHidGamma,
                dTransform, d.PHiddenGamma, d.PHiddenBeta, batch, width);
        }
        if (FromZero(t))
        {
            new Span<float>(dhPrev, batch * hidden).Clear();
        }
        else
        {
            packedHh.Multiply(dTransform, width, dhPrev, hidden, accumulate: false);
            if (hiddenMask is not null) RecurrenceKernels.Multiply(dhPrev, pMask, dhPrev, batch * hidden);
            if (pass is not null) RecurrenceKernels.Add(dhPrev, pass, dhPrev, batch * hidden);
        }
        d.Next = 1 - d.Next;
    }

    /// <summary>dW_hh (width, hidden), one GEMM over all steps, and db_hh where the cell has a hidden bias.</summary>
    public (Tensor Weight, Tensor? Bias) HiddenWeightGradients(Gradients d)
    {
        var h = Inputs;
        var dTransform = d.HiddenTransform;
        var bias = hiddenBias is null ? null : dTransform.reshape(-1, width).sum(dim: 0);
        if (zeroStart)
        {
            // The zero start's rows add nothing: leave them out of the GEMM.
            if (time == 1) return (zeros(width, hidden), bias);
            long first = reverse ? 0 : 1;
            (h, dTransform) = (h.narrow(0, first, time - 1), dTransform.narrow(0, first, time - 1));
        }
        var hIn = hiddenMask is null ? h : h * hiddenMask;
        return (dTransform.reshape(-1, width).t().mm(hIn.reshape(-1, hidden)), bias);
    }

    /// <summary>dγ, dβ of the input and hidden norms (null where absent).</summary>
    public (Tensor? InputGamma, Tensor? InputBeta, Tensor? HiddenGamma, Tensor? HiddenBeta) NormGradients(Gradients d) =>
        (d.InputGamma, d.InputBeta, d.HiddenGamma, d.HiddenBeta);
}
