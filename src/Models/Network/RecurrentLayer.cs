using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>
/// One recurrent layer, uni- or bidirectional. Its weights live in libtorch's fused RNN module, which runs
/// a whole sequence in one call; the same weights drive a step-by-step cell where the fused kernel cannot
/// follow (layer normalisation, recurrent dropout, decoding one token at a time).
/// </summary>
public sealed class RecurrentLayer : nn.Module
{
    readonly CellKind cell;
    readonly int hidden;
    readonly int directions;
    readonly bool layerNorm;
    readonly nn.Module rnn;
    readonly ModuleList<LayerNorm> inputNorms;
    readonly ModuleList<LayerNorm> hiddenNorms;

    public RecurrentLayer(string name, CellKind cell, int inputSize, int hidden, bool bidirectional, bool layerNorm)
        : base(name)
    {
        this.cell = cell;
        this.hidden = hidden;
        directions = bidirectional ? 2 : 1;
        this.layerNorm = layerNorm;
        rnn = cell switch
        {
            CellKind.Lstm => nn.LSTM(inputSize, hidden, 1, true, batchFirst: true, bidirectional: bidirectional),
            CellKind.Gru => nn.GRU(inputSize, hidden, 1, true, batchFirst: true, bidirectional: bidirectional),
            _ => nn.RNN(inputSize, hidden, 1, nn.NonLinearities.Tanh, true, batchFirst: true, bidirectional: bidirectional),
        };
        inputNorms = new ModuleList<LayerNorm>();
        hiddenNorms = new ModuleList<LayerNorm>();
        if (layerNorm)
            for (int d = 0; d < directions; d++)
            {
                inputNorms.Add(nn.LayerNorm(Gates * hidden));
                hiddenNorms.Add(nn.LayerNorm(Gates * hidden));
            }
        RegisterComponents();
    }

    /// <summary>Stepwise runs use <see cref="FusedRecurrentLayer"/>; tests turn it off to compare with autograd through <see cref="Step"/>.</summary>
    internal bool UseFusedRecurrence { get; set; } = true;

    bool Fuses => UseFusedRecurrence && PackedWeight.IsAvailable;

    /// <summary>Gate blocks per cell: LSTM i,f,g,o; GRU r,z,n; RNN one.</summary>
    int Gates => cell switch { CellKind.Lstm => 4, CellKind.Gru => 3, _ => 1 };

    public int Directions => directions;
    public int OutputSize => hidden * directions;

    /// <summary>The weights of one direction, prepared once per forward pass for the step-by-step cell.</summary>
    public CellWeights Weights(int direction)
    {
        string suffix = direction == 0 ? "_l0" : "_l0_reverse";
        Parameter Get(string n) => (Parameter)rnn.get_parameter(n + suffix)!;
        var wIh = Get("weight_ih");
        var wHh = Get("weight_hh");
        var bIh = Get("bias_ih");
        var bHh = Get("bias_hh");
        // Without layer norm an LSTM/RNN may add both biases to the input projection once, instead of every step.
        bool fold = !layerNorm && cell != CellKind.Gru;
        return new CellWeights(wIh, wHh.t(), fold ? bIh + bHh : bIh, fold ? null : bHh,
            layerNorm ? inputNorms[direction] : null, layerNorm ? hiddenNorms[direction] : null);
    }

    /// <summary>x·W_ih^T + b over columns [from, from+width) of the input, for inputs that arrive in parts (decoder: embedding, then context).</summary>
    public static Tensor InputLinear(CellWeights w, Tensor x, long from, long width, bool withBias)
    {
        var weight = from == 0 && width == w.Ih.shape[1] ? w.Ih : w.Ih.narrow(1, from, width);
        return F.linear(x, weight, withBias ? w.InputBias : null);
    }

    /// <summary>Layer norm of the input transform when enabled (applied after all input parts are summed).</summary>
    public static Tensor NormalizeInput(CellWeights w, Tensor ih) => w.InputNorm is null ? ih : w.InputNorm.call(ih);

    /// <summary>The whole input transform of x (batch, input) or (time, batch, input), with an optional per-sequence dropout mask (batch, input).</summary>
    public static Tensor ProjectInput(CellWeights w, Tensor x, Tensor? inputMask)
    {
        if (inputMask is not null) x = x * inputMask;
        return NormalizeInput(w, InputLinear(w, x, 0, w.Ih.shape[1], withBias: true));
    }

    /// <summary>One time step of the cell from its projected input ih (batch, gates*hidden).</summary>
    public RnnState Step(CellWeights w, Tensor ih, RnnState state, Tensor? hiddenMask)
    {
        var h = hiddenMask is null ? state.H : state.H * hiddenMask;
        switch (cell)
        {
            case CellKind.Lstm:
            {
                var gates = HiddenPlusInput(w, ih, h);
                var s = gates.sigmoid();
                var g = gates.narrow(1, 2 * hidden, hidden).tanh();
                var c = s.narrow(1, hidden, hidden) * state.C! + s.narrow(1, 0, hidden) * g;
                return new RnnState(s.narrow(1, 3 * hidden, hidden) * c.tanh(), c);
            }
            case CellKind.Gru:
            {
                var hh = w.HiddenBias is null ? h.mm(w.HhT) : torch.addmm(w.HiddenBias, h, w.HhT, 1, 1);
                if (w.HiddenNorm is not null) hh = w.HiddenNorm.call(hh);
                var rz = (ih.narrow(1, 0, 2 * hidden) + hh.narrow(1, 0, 2 * hidden)).sigmoid();
                var n = (ih.narrow(1, 2 * hidden, hidden) + rz.narrow(1, 0, hidden) * hh.narrow(1, 2 * hidden, hidden)).tanh();
                return new RnnState(n + rz.narrow(1, hidden, hidden) * (state.H - n), null);
            }
            default:
                return new RnnState(HiddenPlusInput(w, ih, h).tanh(), null);
        }
    }

    static Tensor HiddenPlusInput(CellWeights w, Tensor ih, Tensor h)
    {
        if (w.HiddenNorm is null) return torch.addmm(ih, h, w.HhT, 1, 1);
        var hh = h.mm(w.HhT);
        if (w.HiddenBias is not null) hh = hh + w.HiddenBias;
        return ih + w.HiddenNorm.call(hh);
    }

    /// <summary>Zero state for a batch.</summary>
    public RnnState ZeroState(long batch) =>
        new(zeros(batch, hidden), cell == CellKind.Lstm ? zeros(batch, hidden) : null);

    /// <summary>
    /// Runs a whole sequence x (batch, time, input). <paramref name="lengths"/> (CPU int64) is given when the
    /// batch is padded. Returns outputs (batch, time, directions*hidden) and the final state per direction.
    /// </summary>
    public (Tensor Output, RnnState[] Final) Run(Tensor x, Tensor? lengths, Tensor? validSteps,
        RnnState[]? initial, bool stepwise, SequenceMasks? masks, TokenInput? tokens = null)
    {
        var (output, finals) = RunTimeMajor(x.transpose(0, 1), lengths, validSteps, initial, stepwise, masks, tokens);
        return (output.transpose(0, 1), finals);
    }

    /// <summary>
    /// <see cref="Run"/> on x (time, batch, input), returning outputs (time, batch, directions*hidden): the layout the
    /// recurrence works in, so a stack passes one layer's output to the next without a transposed copy.
    /// </summary>
    internal (Tensor Output, RnnState[] Final) RunTimeMajor(Tensor x, Tensor? lengths, Tensor? validSteps,
        RnnState[]? initial, bool stepwise, SequenceMasks? masks, TokenInput? tokens = null)
    {
        // Training runs our fused recurrence for every cell: libtorch trains GRU and tanh-RNN step by step through
        // autograd, and its oneDNN LSTM, as fast as ours on AVX-512, trained 1.3-1.6x slower on an AVX2 EPYC.
        if (!stepwise && Fuses && training && is_grad_enabled()) stepwise = true;
        if (!stepwise)
        {
            // libtorch's batch-first kernels work time-major inside: the transposed views cost no copy either way.
            var (output, finals) = RunFused(x.transpose(0, 1), lengths, initial);
            return (output.transpose(0, 1), finals);
        }
        // Padded steps carry the state; where the caller gave only the lengths, the valid steps come from them here.
        validSteps ??= lengths is null ? null : arange(x.shape[0], dtype: ScalarType.Int64).unsqueeze(0) < lengths.unsqueeze(1);
        return RunStepwise(x, lengths, validSteps, initial, masks, tokens);
    }

    (Tensor, RnnState[]) RunFused(Tensor x, Tensor? lengths, RnnState[]? initial)
    {
        Tensor? h0 = initial is null ? null : stack(initial.Select(s => s.H), 0);
        Tensor? c0 = initial is null || cell != CellKind.Lstm ? null : stack(initial.Select(s => s.C!), 0);
        Tensor output, hn;
        Tensor? cn = null;
        // oneDNN's inference RNN kernels drift by up to 0.2 on AVX-512 (AMD EPYC, seen here) while ATen's own
        // packed kernel is exact; training without the fused recurrence keeps oneDNN, whose training kernels agree
        // with float64 to 1e-7.
        if (lengths is null && (!training || !is_grad_enabled())) lengths = full(x.shape[0], x.shape[1], dtype: ScalarType.Int64);
        if (lengths is null)
        {
            (output, hn, cn) = CallFused(x, h0, c0);
        }
        else
        {
            var packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first: true, enforce_sorted: false);
            nn.utils.rnn.PackedSequence packedOut;
            switch (rnn)
            {
                case LSTM lstm:
                    (packedOut, hn, cn) = lstm.call(packed, h0 is null ? null : (h0, c0!));
                    break;
                case GRU gru:
                    (packedOut, hn) = gru.call(packed, h0);
                    break;
                default:
                    (packedOut, hn) = ((RNN)rnn).call(packed, h0);
                    break;
            }
            output = nn.utils.rnn.pad_packed_sequence(packedOut, batch_first: true, total_length: x.shape[1]).Item1;
        }
        var finals = new RnnState[directions];
        for (int d = 0; d < directions; d++) finals[d] = new RnnState(hn[d], cn?[d]);
        return (output, finals);
    }

    (Tensor, Tensor, Tensor?) CallFused(Tensor x, Tensor? h0, Tensor? c0)
    {
        switch (rnn)
        {
            case LSTM lstm:
                return lstm.call(x, h0 is null ? null : (h0, c0!));
            case GRU gru:
            {
                var (o, h) = gru.call(x, h0);
                return (o, h, null);
            }
            default:
            {
                var (o, h) = ((RNN)rnn).call(x, h0);
                return (o, h, null);
            }
        }
    }

    // x and the outputs are time-major: (time, batch, features).
    (Tensor, RnnState[]) RunStepwise(Tensor x, Tensor? lengths, Tensor? validSteps, RnnState[]? initial, SequenceMasks? masks,
        TokenInput? tokens)
    {
        long time = x.shape[0], batch = x.shape[1];
        var outputs = new Tensor[directions];
        var finals = new RnnState[directions];
        for (int d = 0; d < directions; d++)
        {
            // The backward direction reads each sequence from its own last token: reversed within lengths, or, when no
            // sequence is padded, run from the last step by the fused recurrence or flipped in time (block copies, where
            // a gather goes element by element).
            bool backwards = d == 1 && lengths is null && Fuses;
            bool flip = d == 1 && lengths is null && !Fuses;
            Tensor? reverse = d == 1 && lengths is not null ? ReverseWithinLengths(batch, time, lengths).t() : null;
            var w = Weights(d);
            Tensor ih;
            if (tokens is not null && masks?.Input[d] is null && tokens.Embedding.shape[0] < batch * time)
            {
                // The same function, far cheaper: transform each vocabulary row once and look the positions up.
                var ids = tokens.Tokens.t();
                ids = flip ? ids.flip(0) : reverse is null ? ids : ids.gather(0, reverse);
                var table = NormalizeInput(w, InputLinear(w, tokens.Embedding, 0, w.Ih.shape[1], withBias: true));
                ih = table.index_select(0, ids.reshape(-1)).reshape(time, batch, table.shape[1]);
            }
            else
            {
                var input = flip ? x.flip(0) : reverse is null ? x : x.gather(0, reverse.unsqueeze(2).expand(-1, -1, x.shape[2]));
                ih = ProjectInput(w, input, masks?.Input[d]).contiguous();
            }
            bool zeroStart = initial?[d] is null;
            var state = initial?[d] ?? ZeroState(batch);
            Tensor output;
            if (Fuses)
            {
                // ih is this call's own: the recurrence works in it instead of a copy.
                (output, state) = FusedRecurrentLayer.Run(cell, ih, state, w, masks?.Hidden[d], validSteps?.t(), ownsInputs: true, reverse: backwards, zeroStart: zeroStart);
            }
            else
            {
                var steps = new Tensor[time];
                for (long t = 0; t < time; t++)
                {
                    var next = Step(w, ih[t], state, masks?.Hidden[d]);
                    state = validSteps is null ? next : next.Where(validSteps.select(1, t).unsqueeze(1), state);
                    steps[t] = state.H;
                }
                output = stack(steps, 0);
            }
            outputs[d] = flip ? output.flip(0) : reverse is null ? output : output.gather(0, reverse.unsqueeze(2).expand(-1, -1, hidden));
            finals[d] = state;
        }
        return (directions == 1 ? outputs[0] : cat(outputs, 2), finals);
    }

    static Tensor ReverseWithinLengths(long batch, long time, Tensor? lengths)
    {
        var t = arange(time, dtype: ScalarType.Int64).unsqueeze(0).expand(batch, time);
        if (lengths is null) return (time - 1 - t).contiguous();
        var len = lengths.unsqueeze(1);
        // Positions past a sequence's end stay where they are, so padding never mixes into real tokens.
        return torch.where(t < len, len - 1 - t, t);
    }

    /// <summary>Draws this layer's per-sequence dropout masks (input and hidden, per direction) for one batch.</summary>
    public SequenceMasks? DrawMasks(long batch, long inputSize, double p, Generator generator, bool training)
    {
        if (!training || p <= 0) return null;
        var input = new Tensor?[directions];
        var hiddenMasks = new Tensor?[directions];
        for (int d = 0; d < directions; d++)
        {
            input[d] = DropoutMasks.PerSequence(batch, inputSize, p, generator, training);
            hiddenMasks[d] = DropoutMasks.PerSequence(batch, hidden, p, generator, training);
        }
        return new SequenceMasks(input, hiddenMasks);
    }
}

/// <summary>
/// A first layer's input when it is exactly the embedding of tokens (batch, time), with no per-position noise: the
/// layer may then transform the embedding table's rows once instead of every position.
/// </summary>
public sealed record TokenInput(Tensor Tokens, Tensor Embedding);

/// <summary>The tensors one direction of a cell uses every step: W_ih, W_hh transposed, biases, norms.</summary>
public sealed record CellWeights(Tensor Ih, Tensor HhT, Tensor InputBias, Tensor? HiddenBias, LayerNorm? InputNorm, LayerNorm? HiddenNorm);

/// <summary>Recurrent-dropout masks of one layer for one batch: per direction, (batch, size), constant over time.</summary>
public sealed record SequenceMasks(Tensor?[] Input, Tensor?[] Hidden);
