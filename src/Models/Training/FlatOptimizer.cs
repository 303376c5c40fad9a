using System.Numerics;
using Distributed.Options;

namespace Distributed.Models.Training;

/// <summary>
/// Optimizers over one flat parameter buffer and one flat gradient buffer. Their whole state is a couple of
/// float arrays and a step count, so a checkpoint saves it exactly and every replica that applies the same
/// averaged gradient stays bit-identical.
/// </summary>
public sealed class FlatOptimizer
{
    readonly TrainingOptions options;
    readonly float[] first;   // Adam: m; SGD: momentum buffer
    readonly float[] second;  // Adam: v; SGD: unused

    public FlatOptimizer(TrainingOptions options, int parameterCount)
    {
        this.options = options;
        first = new float[parameterCount];
        second = options.Optimizer == OptimizerKind.Sgd ? [] : new float[parameterCount];
    }

    /// <summary>Updates applied so far.</summary>
    public long Updates { get; private set; }

    public void Step(Span<float> parameters, ReadOnlySpan<float> gradient, double learningRate)
    {
        if (parameters.Length != first.Length || gradient.Length != first.Length)
            throw new ArgumentException($"expected {first.Length} parameters and gradients, got {parameters.Length} and {gradient.Length}");
        Updates++;
        if (options.Optimizer == OptimizerKind.Sgd) Sgd(parameters, gradient, (float)learningRate);
        else Adam(parameters, gradient, learningRate);
    }

    void Sgd(Span<float> p, ReadOnlySpan<float> g, float lr)
    {
        float momentum = (float)options.Momentum, decay = (float)options.WeightDecay;
        for (int i = 0; i < p.Length; i++)
        {
            float grad = g[i] + decay * p[i];
            float buf = Updates == 1 ? grad : momentum * first[i] + grad;
            first[i] = buf;
            p[i] -= lr * buf;
        }
    }

    void Adam(Span<float> p, ReadOnlySpan<float> g, double learningRate)
    {
        float b1 = (float)options.Beta1, b2 = (float)options.Beta2, eps = (float)options.Epsilon;
        float decay = (float)options.WeightDecay;
        bool decoupled = options.Optimizer == OptimizerKind.AdamW;
        double correction1 = 1 - Math.Pow(options.Beta1, Updates);
        double correction2 = 1 - Math.Pow(options.Beta2, Updates);
        // Folding both bias corrections into the step size and epsilon, as PyTorch's Adam does.
        float stepSize = (float)(learningRate / correction1);
        float sqrtC2 = (float)Math.Sqrt(correction2);
        float shrink = decoupled ? (float)(1 - learningRate * options.WeightDecay) : 1f;
        float l2 = decoupled ? 0f : decay;

        int i = 0;
        int n = Vector<float>.Count;
        var vb1 = new Vector<float>(b1); var vb1c = new Vector<float>(1 - b1);
        var vb2 = new Vector<float>(b2); var vb2c = new Vector<float>(1 - b2);
        var vEps = new Vector<float>(eps); var vStep = new Vector<float>(stepSize);
        var vSqrtC2 = new Vector<float>(sqrtC2); var vShrink = new Vector<float>(shrink); var vL2 = new Vector<float>(l2);
        var m = first.AsSpan(); var v = second.AsSpan();
        for (; i <= p.Length - n; i += n)
        {
            var pi = new Vector<float>(p.Slice(i));
            var gi = new Vector<float>(g.Slice(i)) + vL2 * pi;
            var mi = vb1 * new Vector<float>(m.Slice(i)) + vb1c * gi;
            var vi = vb2 * new Vector<float>(v.Slice(i)) + vb2c * gi * gi;
            mi.CopyTo(m.Slice(i));
            vi.CopyTo(v.Slice(i));
            var denom = Vector.SquareRoot(vi) / vSqrtC2 + vEps;
            (pi * vShrink - vStep * mi / denom).CopyTo(p.Slice(i));
        }
        for (; i < p.Length; i++)
        {
            float gi = g[i] + l2 * p[i];
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            float denom = MathF.Sqrt(v[i]) / sqrtC2 + eps;
            p[i] = p[i] * shrink - stepSize * m[i] / denom;
        }
    }

    public void WriteTo(BinaryWriter writer)
    {
        writer.Write(Updates);
        writer.Write(first.Length);
        WriteFloats(writer, first);
        writer.Write(second.Length);
        WriteFloats(writer, second);
    }

    public void ReadFrom(BinaryReader reader)
    {
        Updates = reader.ReadInt64();
        ReadFloats(reader, first, reader.ReadInt32(), "first moment");
        ReadFloats(reader, second, reader.ReadInt32(), "second moment");
    }

    internal static void WriteFloats(BinaryWriter writer, ReadOnlySpan<float> values) =>
        writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));

    internal static void ReadFloats(BinaryReader reader, Span<float> into, int count, string what)
    {
        if (count != into.Length) throw new InvalidDataException($"checkpoint {what} has {count} values, the model needs {into.Length}");
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(into);
        for (int read = 0; read < bytes.Length;)
        {
            int n = reader.Read(bytes.Slice(read));
            if (n == 0) throw new InvalidDataException($"checkpoint ends inside the {what}");
            read += n;
        }
    }
}
