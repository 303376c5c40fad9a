using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Distributed.Models.Network;

/// <summary>
/// The cells of the fused recurrences (<see cref="FusedCell"/>), one time step over a batch on raw float memory:
/// LSTM, GRU and tanh-RNN, forward and backward. Rows whose <c>valid</c> byte is 0 (padding) carry the state
/// unchanged; their backward passes the hidden gradient straight through and gives their gates none.
/// </summary>
public static unsafe class CellKernels
{
    /// <summary>
    /// LSTM cell forward for one step. gates (batch, 4·hidden) holds pre-activations [i f g o] and is overwritten
    /// with σ(i), σ(f), tanh(g), σ(o); then c = f⊙c_prev + i⊙g, tanhC = tanh(c), h = o⊙tanhC. Rows whose
    /// <paramref name="valid"/> byte is 0 (padding) keep h_prev and c_prev.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LstmCell(float* gates, float* cPrev, float* c, float* tanhC, float* h, int batch, int hidden,
        float* hPrev = null, byte* valid = null)
    {
        for (int b = 0; b < batch; b++)
        {
            if (valid is not null && valid[b] == 0)
            {
                // Past this sequence's end: the state is carried unchanged.
                long at = (long)b * hidden;
                new Span<float>(cPrev + at, hidden).CopyTo(new Span<float>(c + at, hidden));
                new Span<float>(hPrev + at, hidden).CopyTo(new Span<float>(h + at, hidden));
                new Span<float>(tanhC + at, hidden).Clear();
                continue;
            }
            float* gi = gates + (long)b * 4 * hidden;
            float* gf = gi + hidden;
            float* gg = gf + hidden;
            float* go = gg + hidden;
            long o = (long)b * hidden;
            VectorActivations.Sigmoid(gi, 2 * hidden); // i and f
            VectorActivations.Tanh(gg, hidden);
            VectorActivations.Sigmoid(go, hidden);
            int j = 0;
            for (; j <= hidden - 8; j += 8)
                (Vector256.Load(gf + j) * Vector256.Load(cPrev + o + j) + Vector256.Load(gi + j) * Vector256.Load(gg + j)).Store(c + o + j);
            for (; j < hidden; j++) c[o + j] = gf[j] * cPrev[o + j] + gi[j] * gg[j];
            new Span<float>(c + o, hidden).CopyTo(new Span<float>(tanhC + o, hidden));
            VectorActivations.Tanh(tanhC + o, hidden);
            for (j = 0; j <= hidden - 8; j += 8) (Vector256.Load(go + j) * Vector256.Load(tanhC + o + j)).Store(h + o + j);
            for (; j < hidden; j++) h[o + j] = go[j] * tanhC[o + j];
        }
    }

    /// <summary>
    /// LSTM cell backward for one step. dh = dTop + dhNext; dc = dcNext + dh⊙o⊙(1 − tanhC²); writes the gradient
    /// wrt the pre-activations into dGates (batch, 4·hidden) and dc⊙f into dcNext (in place: the next step back's dc).
    /// With <paramref name="valid"/>, padded rows get zero gate gradients, keep dcNext, and put dh into
    /// <paramref name="dhPass"/> (zero elsewhere), which the caller adds to dh_prev.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LstmCellBackward(float* act, float* tanhC, float* cPrev, float* dTop, float* dhNext, float* dcNext,
        float* dGates, int batch, int hidden, byte* valid = null, float* dhPass = null)
    {
        for (int b = 0; b < batch; b++)
        {
            if (valid is not null)
            {
                long at = (long)b * hidden;
                if (valid[b] == 0)
                {
                    // A carried state passes its gradients straight through; its gates had no effect.
                    for (int k = 0; k < hidden; k++) dhPass[at + k] = dTop[at + k] + dhNext[at + k];
                    new Span<float>(dGates + 4 * at, 4 * hidden).Clear();
                    continue;
                }
                new Span<float>(dhPass + at, hidden).Clear();
            }
            float* ai = act + (long)b * 4 * hidden;
            float* af = ai + hidden;
            float* ag = af + hidden;
            float* ao = ag + hidden;
            float* di = dGates + (long)b * 4 * hidden;
            float* df = di + hidden;
            float* dg = df + hidden;
            float* dout = dg + hidden;
            long o = (long)b * hidden;
            var one = Vector256<float>.One;
            int j = 0;
            for (; j <= hidden - 8; j += 8)
            {
                var i = Vector256.Load(ai + j);
                var f = Vector256.Load(af + j);
                var g = Vector256.Load(ag + j);
                var og = Vector256.Load(ao + j);
                var tc = Vector256.Load(tanhC + o + j);
                var dh = Vector256.Load(dTop + o + j) + Vector256.Load(dhNext + o + j);
                var dc = Vector256.Load(dcNext + o + j) + dh * og * (one - tc * tc);
                (dc * g * i * (one - i)).Store(di + j);
                (dc * Vector256.Load(cPrev + o + j) * f * (one - f)).Store(df + j);
                (dc * i * (one - g * g)).Store(dg + j);
                (dh * tc * og * (one - og)).Store(dout + j);
                (dc * f).Store(dcNext + o + j);
            }
            for (; j < hidden; j++)
            {
                float i = ai[j], f = af[j], g = ag[j], og = ao[j], tc = tanhC[o + j];
                float dh = dTop[o + j] + dhNext[o + j];
                float dc = dcNext[o + j] + dh * og * (1 - tc * tc);
                di[j] = dc * g * i * (1 - i);
                df[j] = dc * cPrev[o + j] * f * (1 - f);
                dg[j] = dc * i * (1 - g * g);
                dout[j] = dh * tc * og * (1 - og);
                dcNext[o + j] = dc * f;
            }
        }
    }


    /// <summary>
    /// GRU cell forward for one step (PyTorch's gate layout r, z, n). act (batch, 3·hidden) holds the input transform
    /// and is overwritten with r = σ(i_r + h_r), z = σ(i_z + h_z), n = tanh(i_n + r⊙h_n); hh (batch, 3·hidden) is the
    /// hidden transform with its bias; h = n + z⊙(h_prev − n).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GruCell(float* act, float* hh, float* hPrev, float* h, int batch, int hidden, byte* valid = null)
    {
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * hidden;
            float* r = act + 3 * o, z = r + hidden, n = z + hidden, hn = hh + 3 * o + 2 * hidden;
            if (valid is not null && valid[b] == 0)
            {
                new Span<float>(hPrev + o, hidden).CopyTo(new Span<float>(h + o, hidden));
                new Span<float>(r, 3 * hidden).Clear();
                continue;
            }
            RecurrenceKernels.Add(r, hh + 3 * o, r, 2 * hidden);
            VectorActivations.Sigmoid(r, 2 * hidden);
            int j = 0;
            for (; j <= hidden - 8; j += 8) (Vector256.Load(n + j) + Vector256.Load(r + j) * Vector256.Load(hn + j)).Store(n + j);
            for (; j < hidden; j++) n[j] += r[j] * hn[j];
            VectorActivations.Tanh(n, hidden);
            for (j = 0; j <= hidden - 8; j += 8)
            {
                var nj = Vector256.Load(n + j);
                (nj + Vector256.Load(z + j) * (Vector256.Load(hPrev + o + j) - nj)).Store(h + o + j);
            }
            for (; j < hidden; j++) h[o + j] = n[j] + z[j] * (hPrev[o + j] - n[j]);
        }
    }

    /// <summary>
    /// GRU cell backward for one step. dh = dTop + dhNext; writes the gradients wrt the input transform (dIh) and the
    /// hidden transform (dHh), both (batch, 3·hidden), and the part of dh_prev that skips W_hh (dh⊙z) into dhPass.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GruCellBackward(float* act, float* hh, float* hPrev, float* dTop, float* dhNext, float* dIh, float* dHh,
        float* dhPass, int batch, int hidden, byte* valid = null)
    {
        var one = Vector256<float>.One;
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * hidden;
            if (valid is not null && valid[b] == 0)
            {
                for (int k = 0; k < hidden; k++) dhPass[o + k] = dTop[o + k] + dhNext[o + k];
                new Span<float>(dIh + 3 * o, 3 * hidden).Clear();
                new Span<float>(dHh + 3 * o, 3 * hidden).Clear();
                continue;
            }
            float* r = act + 3 * o, z = r + hidden, n = z + hidden, hn = hh + 3 * o + 2 * hidden;
            float* dir = dIh + 3 * o, diz = dir + hidden, din = diz + hidden;
            float* dhr = dHh + 3 * o, dhz = dhr + hidden, dhn = dhz + hidden;
            int j = 0;
            for (; j <= hidden - 8; j += 8)
            {
                var rj = Vector256.Load(r + j);
                var zj = Vector256.Load(z + j);
                var nj = Vector256.Load(n + j);
                var dh = Vector256.Load(dTop + o + j) + Vector256.Load(dhNext + o + j);
                var dn = dh * (one - zj) * (one - nj * nj);
                var dr = dn * Vector256.Load(hn + j) * rj * (one - rj);
                var dz = dh * (Vector256.Load(hPrev + o + j) - nj) * zj * (one - zj);
                dn.Store(din + j);
                (dn * rj).Store(dhn + j);
                dr.Store(dir + j);
                dr.Store(dhr + j);
                dz.Store(diz + j);
                dz.Store(dhz + j);
                (dh * zj).Store(dhPass + o + j);
            }
            for (; j < hidden; j++)
            {
                float rj = r[j], zj = z[j], nj = n[j], dh = dTop[o + j] + dhNext[o + j];
                float dn = dh * (1 - zj) * (1 - nj * nj);
                float dr = dn * hn[j] * rj * (1 - rj);
                float dz = dh * (hPrev[o + j] - nj) * zj * (1 - zj);
                din[j] = dn;
                dhn[j] = dn * rj;
                dir[j] = dhr[j] = dr;
                diz[j] = dhz[j] = dz;
                dhPass[o + j] = dh * zj;
            }
        }
    }

    /// <summary>tanh-RNN cell forward for one step: act (batch, hidden) holds the summed transforms and becomes h = tanh(act).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TanhCell(float* act, float* hPrev, float* h, int batch, int hidden, byte* valid = null)
    {
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * hidden;
            if (valid is not null && valid[b] == 0)
            {
                new Span<float>(hPrev + o, hidden).CopyTo(new Span<float>(h + o, hidden));
                new Span<float>(act + o, hidden).Clear();
                continue;
            }
            VectorActivations.Tanh(act + o, hidden);
            new Span<float>(act + o, hidden).CopyTo(new Span<float>(h + o, hidden));
        }
    }

    /// <summary>tanh-RNN cell backward: dGates = (dTop + dhNext)⊙(1 − h²); padded rows pass dh into dhPass.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TanhCellBackward(float* act, float* dTop, float* dhNext, float* dGates, int batch, int hidden,
        byte* valid = null, float* dhPass = null)
    {
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * hidden;
            if (valid is not null)
            {
                if (valid[b] == 0)
                {
                    for (int k = 0; k < hidden; k++) dhPass[o + k] = dTop[o + k] + dhNext[o + k];
                    new Span<float>(dGates + o, hidden).Clear();
                    continue;
                }
                new Span<float>(dhPass + o, hidden).Clear();
            }
            for (int j = 0; j < hidden; j++)
            {
                float a = act[o + j];
                dGates[o + j] = (dTop[o + j] + dhNext[o + j]) * (1 - a * a);
            }
        }
    }
}
