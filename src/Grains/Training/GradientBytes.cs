using System.Buffers;
using System.Runtime.InteropServices;

namespace Distributed.Grains.Training;

/// <summary>
/// Gradients travel between grains as float32 bytes (2-3x faster on the wire than float[]); this views those bytes
/// as floats without copying them.
/// </summary>
static class GradientBytes
{
    public static ReadOnlyMemory<float> AsFloats(byte[] bytes) => new FloatView(bytes).Memory;

    sealed unsafe class FloatView(byte[] bytes) : MemoryManager<float>
    {
        public override Span<float> GetSpan() => MemoryMarshal.Cast<byte, float>(bytes.AsSpan());

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
            return new MemoryHandle((float*)handle.AddrOfPinnedObject() + elementIndex, handle);
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
