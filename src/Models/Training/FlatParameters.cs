using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distributed.Models.Training;

/// <summary>
/// Rebinds every parameter, and its gradient, as a view into one contiguous buffer. Backward then accumulates
/// straight into the flat gradient (libtorch adds in place into an existing .grad), the optimizer updates the flat
/// parameters, and gradients or weights leave a replica as one span with no gathering or copying.
/// </summary>
public sealed unsafe class FlatParameters : IDisposable
{
    readonly IReadOnlyList<Parameter> parameters;
    readonly Tensor values;
    readonly Tensor gradients;
    readonly float* valuesPointer;
    readonly float* gradientsPointer;

    public FlatParameters(IReadOnlyList<Parameter> parameters)
    {
        this.parameters = parameters;
        long total = parameters.Sum(p => p.numel());
        if (total > int.MaxValue) throw new ArgumentException($"{total} parameters do not fit one flat buffer");
        Count = (int)total;
        values = zeros(total);
        gradients = zeros(total);
        using (no_grad())
        {
            long offset = 0;
            foreach (var p in parameters)
            {
                long n = p.numel();
                var valueView = values.narrow(0, offset, n).view(p.shape);
                valueView.copy_(p);
                p.set_(valueView);
                p.grad = gradients.narrow(0, offset, n).view(p.shape);
                offset += n;
            }
        }
        valuesPointer = TensorMemory.Floats(values);
        gradientsPointer = TensorMemory.Floats(gradients);
    }

    public int Count { get; }
    public Span<float> Values => new(valuesPointer, Count);
    public Span<float> Gradients => new(gradientsPointer, Count);

    public void ZeroGradients() => Gradients.Clear();

    /// <summary>
    /// True while every parameter's value and gradient still live in the flat buffers. libtorch could replace a
    /// .grad instead of adding into it; this is how the trainer makes sure that never happened silently.
    /// </summary>
    public bool IsBound()
    {
        long offset = 0;
        foreach (var p in parameters)
        {
            long n = p.numel();
            if (!SharesMemory(p, valuesPointer + offset) || p.grad is null || !SharesMemory(p.grad, gradientsPointer + offset)) return false;
            offset += n;
        }
        return true;
    }

    static bool SharesMemory(Tensor t, float* expected) =>
        (float*)t.storage<float>().data_ptr() + t.storage_offset() == expected;

    public void Dispose()
    {
        values.Dispose();
        gradients.Dispose();
    }
}
