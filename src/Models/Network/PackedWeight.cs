using System.Runtime.InteropServices;

namespace Distributed.Models.Network;

/// <summary>
/// A weight matrix packed once for MKL's GEMM (the MKL inside libtorch_cpu, called directly), then multiplied
/// many times: y (rows × n) = x (rows × k) · op(W). A recurrence multiplies the same W_hh, W_c, W_q at every time
/// step; packing them once and calling MKL on raw pointers removes the per-call repacking and the tensor
/// bookkeeping that dominated those small GEMMs.
/// </summary>
public sealed unsafe class PackedWeight : IDisposable
{
    const int RowMajor = 101, NoTrans = 111, Trans = 112, Packed = 151, BMatrix = 162;

    [DllImport("torch_cpu", EntryPoint = "cblas_sgemm_pack_get_size")]
    static extern nuint PackGetSize(int identifier, int m, int n, int k);

    [DllImport("torch_cpu", EntryPoint = "cblas_sgemm_pack")]
    static extern void Pack(int layout, int identifier, int trans, int m, int n, int k, float alpha, float* src, int ld, float* dest);

    [DllImport("torch_cpu", EntryPoint = "cblas_sgemm_compute")]
    static extern void Compute(int layout, int transa, int transb, int m, int n, int k, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc);

    static readonly Lazy<bool> available = new(() =>
    {
        try
        {
            return PackGetSize(BMatrix, 1, 1, 1) > 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    });

    /// <summary>Whether this libtorch build exports MKL's packed GEMM (the x64 CPU builds do).</summary>
    public static bool IsAvailable => available.Value;

    readonly float* packed;
    readonly int rows, n, k;

    /// <param name="weight">row-major, first element</param>
    /// <param name="ld">its row stride</param>
    /// <param name="rows">rows of every x it will multiply</param>
    /// <param name="n">columns of y</param>
    /// <param name="k">columns of x</param>
    /// <param name="transpose">true: op(W) = Wᵀ with W (n × k); false: op(W) = W with W (k × n)</param>
    public PackedWeight(float* weight, int ld, int rows, int n, int k, bool transpose)
    {
        this.rows = rows;
        this.n = n;
        this.k = k;
        packed = (float*)NativeMemory.AlignedAlloc(PackGetSize(BMatrix, rows, n, k), 64);
        Pack(RowMajor, BMatrix, transpose ? Trans : NoTrans, rows, n, k, 1f, weight, ld, packed);
    }

    /// <summary>y = x·op(W) (accumulate: y += x·op(W)); x has row stride ldx, y row stride ldy.</summary>
    public void Multiply(float* x, int ldx, float* y, int ldy, bool accumulate) =>
        Compute(RowMajor, NoTrans, Packed, rows, n, k, x, ldx, packed, n, accumulate ? 1f : 0f, y, ldy);

    public void Dispose() => NativeMemory.AlignedFree(packed);
}
