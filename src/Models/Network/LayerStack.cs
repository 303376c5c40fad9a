using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>Runs stacked recurrent layers over a whole sequence: residuals from the second layer on, dropout between layers.</summary>
public static class LayerStack
{
    /// <summary>x and the output are (batch, time, features); between layers the stack works time-major, as the recurrences do.</summary>
    public static (Tensor Output, RnnState[][] Final) Run(ModuleList<RecurrentLayer> layers, Tensor x, Tensor? lengths,
        RnnState[][]? initial, ModelOptions options, Generator generator, bool training, TokenInput? tokens = null)
    {
        // The step-by-step cell even without gradients where libtorch's kernel cannot do the job (training with them always takes it).
        bool stepwise = options.LayerNorm || (training && options.RecurrentDropout > 0);
        var finals = new RnnState[layers.Count][];
        long batch = x.shape[0];
        x = x.transpose(0, 1);
        for (int l = 0; l < layers.Count; l++)
        {
            var layer = layers[l];
            var masks = layer.DrawMasks(batch, x.shape[2], options.RecurrentDropout, generator, training);
            var (output, final) = layer.RunTimeMajor(x, lengths, null, initial?[l], stepwise, masks, l == 0 ? tokens : null);
            if (l > 0 && options.Residual) output = output + x;
            finals[l] = final;
            x = l < layers.Count - 1 ? DropoutMasks.Apply(output, options.Dropout, generator, training) : output;
        }
        return (x.transpose(0, 1), finals);
    }
}
