using TorchSharp;
using static TorchSharp.torch;

namespace Distributed.Models.Network;

/// <summary>The recurrent state of one direction of one layer: h, and c for an LSTM. Shapes (batch, hidden).</summary>
public sealed record RnnState(Tensor H, Tensor? C)
{
    /// <summary>Rows picked by <paramref name="index"/> (beam search reorders hypotheses this way).</summary>
    public RnnState Select(Tensor index) => new(H.index_select(0, index), C?.index_select(0, index));

    /// <summary>Keeps the new state where <paramref name="valid"/> (batch, 1) is true and the old one elsewhere, so padding does not move it.</summary>
    public RnnState Where(Tensor valid, RnnState old)
        => new(torch.where(valid, H, old.H), C is null ? null : torch.where(valid, C, old.C!));
}
