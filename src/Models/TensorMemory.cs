using static TorchSharp.torch;

namespace Distributed.Models;

/// <summary>Raw pointers into CPU tensors, for code that works on their memory directly (flat buffers, SIMD kernels).</summary>
public static unsafe class TensorMemory
{
    /// <summary>The first element of a contiguous float32 tensor (views included: the storage offset is applied).</summary>
    public static float* Floats(Tensor t)
    {
        if (t.dtype != ScalarType.Float32 || !t.is_contiguous())
            throw new ArgumentException($"expected a contiguous float32 tensor, got {t.dtype} {(t.is_contiguous() ? "contiguous" : "strided")}");
        return (float*)t.storage<float>().data_ptr() + t.storage_offset();
    }

    /// <summary>A row-major matrix view (rows may be strided, elements within a row must be adjacent): first element and row stride.</summary>
    public static (IntPtr First, int RowStride) Matrix(Tensor t)
    {
        if (t.dtype != ScalarType.Float32 || t.dim() != 2 || t.stride(1) != 1)
            throw new ArgumentException("expected a float32 matrix whose rows are contiguous");
        return ((IntPtr)((float*)t.storage<float>().data_ptr() + t.storage_offset()), (int)t.stride(0));
    }

    /// <summary>The first element of a contiguous int64 tensor (token ids).</summary>
    public static long* Longs(Tensor t)
    {
        if (t.dtype != ScalarType.Int64 || !t.is_contiguous()) throw new ArgumentException("expected a contiguous int64 tensor");
        return (long*)t.storage<long>().data_ptr() + t.storage_offset();
    }

    /// <summary>The first element of a contiguous uint8 tensor.</summary>
    public static byte* Bytes(Tensor t)
    {
        if (t.dtype != ScalarType.Byte || !t.is_contiguous()) throw new ArgumentException("expected a contiguous uint8 tensor");
        return (byte*)t.storage<byte>().data_ptr() + t.storage_offset();
    }
}
