using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Distributed.Models.Network;

/// <summary>
/// Single-pass SIMD kernels for the inner loops of <see cref="FusedAttentionDecoder"/> and <see cref="FusedCell"/>,
/// on raw float memory (σ and tanh from <see cref="VectorActivations"/>).
/// Each replaces a chain of 4-10 libtorch element-wise ops (one pass over memory each, plus per-op
/// overhead) with one pass. Layouts are contiguous row-major; callers pass base pointers.
/// </summary>
public static unsafe class RecurrenceKernels
{
    /// <summary>
    /// Additive attention forward for one step: e = tanh(K + q) (stored for backward), score = e·v, then a softmax
    /// over source positions that gives padded positions (pad[b,s] != 0) weight 0.
    /// K, e: (batch, source, size); q: (batch, size); v: (size); pad: (batch, source) bytes or null; alpha: (batch, source).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AdditiveAttention(float* keys, float* query, float* v, byte* pad, float* energies, float* alpha,
        int batch, int source, int size)
    {
        for (int b = 0; b < batch; b++)
        {
            float* q = query + (long)b * size;
            float* scores = alpha + (long)b * source;
            for (int s = 0; s < source; s++)
            {
                long row = ((long)b * source + s) * size;
                float* k = keys + row;
                float* e = energies + row;
                Add(k, q, e, size);
                VectorActivations.Tanh(e, size);
                float sum = Dot(e, v, size);
                scores[s] = sum;
            }
            MaskedSoftmaxRow(scores, pad is null ? null : pad + (long)b * source, source);
        }
    }

    /// <summary>Softmax in place over each row of x (batch, source); padded positions get weight 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaskedSoftmax(float* x, byte* pad, int batch, int source)
    {
        for (int b = 0; b < batch; b++) MaskedSoftmaxRow(x + (long)b * source, pad is null ? null : pad + (long)b * source, source);
    }

    static void MaskedSoftmaxRow(float* x, byte* pad, int n)
    {
        float max = float.NegativeInfinity;
        for (int s = 0; s < n; s++)
            if ((pad is null || pad[s] == 0) && x[s] > max) max = x[s];
        float total = 0;
        for (int s = 0; s < n; s++)
        {
            x[s] = pad is not null && pad[s] != 0 ? 0f : MathF.Exp(x[s] - max);
            total += x[s];
        }
        for (int s = 0; s < n; s++) x[s] /= total;
    }

    /// <summary>
    /// Softmax backward then additive-attention backward for one step, given dα (batch, source):
    /// dscore = α ⊙ (dα − Σ α dα); dpre = dscore·v ⊙ (1 − e²); dK += dpre; dq = Σ_s dpre; dv += Σ dscore·e.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AdditiveAttentionBackward(float* alpha, float* dAlpha, float* energies, float* v, float* dKeys, float* dQuery,
        float* dV, int batch, int source, int size)
    {
        var dScores = stackalloc float[source];
        for (int b = 0; b < batch; b++)
        {
            float* a = alpha + (long)b * source;
            float* da = dAlpha + (long)b * source;
            float dot = 0;
            for (int s = 0; s < source; s++) dot += a[s] * da[s];
            for (int s = 0; s < source; s++) dScores[s] = a[s] * (da[s] - dot);

            float* dq = dQuery + (long)b * size;
            new Span<float>(dq, size).Clear();
            for (int s = 0; s < source; s++)
            {
                long row = ((long)b * source + s) * size;
                float* e = energies + row;
                float* dk = dKeys + row;
                var ds = Vector256.Create(dScores[s]);
                int j = 0;
                for (; j <= size - 8; j += 8)
                {
                    var ej = Vector256.Load(e + j);
                    var dpre = ds * Vector256.Load(v + j) * (Vector256<float>.One - ej * ej);
                    (Vector256.Load(dk + j) + dpre).Store(dk + j);
                    (Vector256.Load(dq + j) + dpre).Store(dq + j);
                    (Vector256.Load(dV + j) + ds * ej).Store(dV + j);
                }
                for (; j < size; j++)
                {
                    float dpre = dScores[s] * v[j] * (1 - e[j] * e[j]);
                    dk[j] += dpre;
                    dq[j] += dpre;
                    dV[j] += dScores[s] * e[j];
                }
            }
        }
    }

    /// <summary>The attention context: ctx[b] = Σ_s α[b,s]·V[b,s] for α (batch, source), V (batch, source, width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Context(float* alpha, float* values, float* context, int batch, int source, int width)
    {
        for (int b = 0; b < batch; b++)
        {
            float* c = context + (long)b * width;
            new Span<float>(c, width).Clear();
            for (int s = 0; s < source; s++)
            {
                float a = alpha[(long)b * source + s];
                if (a == 0f) continue; // padding
                Axpy(a, values + ((long)b * source + s) * width, c, width);
            }
        }
    }

    /// <summary>Backward of <see cref="Context"/>: dα[b,s] = V[b,s]·dctx[b], and dV[b,s] += α[b,s]·dctx[b].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ContextBackward(float* alpha, float* values, float* dContext, float* dAlpha, float* dValues,
        int batch, int source, int width)
    {
        for (int b = 0; b < batch; b++)
        {
            float* dc = dContext + (long)b * width;
            for (int s = 0; s < source; s++)
            {
                long row = ((long)b * source + s) * width;
                dAlpha[(long)b * source + s] = Dot(values + row, dc, width);
                float a = alpha[(long)b * source + s];
                if (a != 0f) Axpy(a, dc, dValues + row, width);
            }
        }
    }

    /// <summary>z = x + y (z may be x or y).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(float* x, float* y, float* z, int n)
    {
        int j = 0;
        for (; j <= n - 8; j += 8) (Vector256.Load(x + j) + Vector256.Load(y + j)).Store(z + j);
        for (; j < n; j++) z[j] = x[j] + y[j];
    }

    // y += a·x
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Axpy(float a, float* x, float* y, int n)
    {
        var va = Vector256.Create(a);
        int j = 0;
        for (; j <= n - 8; j += 8) (Vector256.Load(y + j) + va * Vector256.Load(x + j)).Store(y + j);
        for (; j < n; j++) y[j] += a * x[j];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Dot(float* x, float* y, int n)
    {
        var acc = Vector256<float>.Zero;
        int j = 0;
        for (; j <= n - 8; j += 8) acc += Vector256.Load(x + j) * Vector256.Load(y + j);
        float sum = Vector256.Sum(acc);
        for (; j < n; j++) sum += x[j] * y[j];
        return sum;
    }

    /// <summary>
    /// Layer norm over each row of x (rows, n): xhat = (x − μ)/sqrt(σ² + eps) and rstd are saved for backward;
    /// y += γ⊙xhat + β (y is added into, so the caller can sum two normalised transforms).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LayerNormAdd(float* x, float* gamma, float* beta, float eps, float* y, float* xhat, float* rstd, int rows, int n)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * n;
            float* hr = xhat + (long)r * n;
            float* yr = y + (long)r * n;
            double sum = 0, squares = 0;
            for (int j = 0; j < n; j++) sum += xr[j];
            float mean = (float)(sum / n);
            for (int j = 0; j < n; j++)
            {
                float d = xr[j] - mean;
                squares += d * d;
            }
            float inv = 1f / MathF.Sqrt((float)(squares / n) + eps);
            rstd[r] = inv;
            var vm = Vector256.Create(mean);
            var vi = Vector256.Create(inv);
            int k = 0;
            for (; k <= n - 8; k += 8)
            {
                var h = (Vector256.Load(xr + k) - vm) * vi;
                h.Store(hr + k);
                (Vector256.Load(yr + k) + h * Vector256.Load(gamma + k) + Vector256.Load(beta + k)).Store(yr + k);
            }
            for (; k < n; k++)
            {
                hr[k] = (xr[k] - mean) * inv;
                yr[k] += hr[k] * gamma[k] + beta[k];
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="LayerNormAdd"/>: dx = rstd⊙(dŷ − mean(dŷ) − xhat⊙mean(dŷ⊙xhat)) with dŷ = dy⊙γ;
    /// dγ += Σ dy⊙xhat; dβ += Σ dy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LayerNormBackward(float* dy, float* xhat, float* rstd, float* gamma, float* dx, float* dGamma, float* dBeta, int rows, int n)
    {
        for (int r = 0; r < rows; r++)
        {
            float* dyr = dy + (long)r * n;
            float* hr = xhat + (long)r * n;
            float* dxr = dx + (long)r * n;
            float sumD = 0, sumDH = 0;
            for (int j = 0; j < n; j++)
            {
                float d = dyr[j] * gamma[j];
                sumD += d;
                sumDH += d * hr[j];
                dGamma[j] += dyr[j] * hr[j];
                dBeta[j] += dyr[j];
            }
            float meanD = sumD / n, meanDH = sumDH / n, inv = rstd[r];
            for (int j = 0; j < n; j++) dxr[j] = inv * (dyr[j] * gamma[j] - meanD - hr[j] * meanDH);
        }
    }

    /// <summary>z = x ⊙ y (z may be x or y): dropout masks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(float* x, float* y, float* z, int n)
    {
        int j = 0;
        for (; j <= n - 8; j += 8) (Vector256.Load(x + j) * Vector256.Load(y + j)).Store(z + j);
        for (; j < n; j++) z[j] = x[j] * y[j];
    }

    /// <summary>Dot-product scores α[b,s] = K[b,s]·h[b] (multiplicative attention passes K = W·values), then the masked softmax.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotAttention(float* keys, float* query, byte* pad, float* alpha, int batch, int source, int size)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int s = 0; s < source; s++)
                alpha[(long)b * source + s] = Dot(keys + ((long)b * source + s) * size, query + (long)b * size, size);
            MaskedSoftmaxRow(alpha + (long)b * source, pad is null ? null : pad + (long)b * source, source);
        }
    }

    /// <summary>
    /// Softmax and dot-score backward: dscore = α ⊙ (dα − Σ α dα); dK[b,s] += dscore·h[b]; dh[b] += Σ_s dscore·K[b,s].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotAttentionBackward(float* alpha, float* dAlpha, float* keys, float* query, float* dKeys, float* dQuery,
        int batch, int source, int size)
    {
        for (int b = 0; b < batch; b++)
        {
            float* a = alpha + (long)b * source;
            float* da = dAlpha + (long)b * source;
            float dot = 0;
            for (int s = 0; s < source; s++) dot += a[s] * da[s];
            for (int s = 0; s < source; s++)
            {
                float ds = a[s] * (da[s] - dot);
                if (ds == 0f) continue;
                long row = ((long)b * source + s) * size;
                Axpy(ds, query + (long)b * size, dKeys + row, size);
                Axpy(ds, keys + row, dQuery + (long)b * size, size);
            }
        }
    }
}
