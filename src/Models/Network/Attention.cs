using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Network;

/// <summary>
/// Scores every encoder position against the decoder state and returns the weighted context.
/// Keys are computed once per source batch (<see cref="Keys"/>), so each decoder step only scores.
/// </summary>
public sealed class Attention : nn.Module
{
    readonly AttentionKind kind;
    readonly Linear? keyProjection;
    readonly Linear? queryProjection;
    readonly Parameter? score;

    public Attention(string name, AttentionKind kind, int encoderSize, int decoderSize, int attentionSize) : base(name)
    {
        if (kind == AttentionKind.None) throw new ArgumentException("attention kind None has no module", nameof(kind));
        this.kind = kind;
        switch (kind)
        {
            case AttentionKind.Multiplicative:
                // h_i^T W s computed as (W^T h_i) · s, so the projection of the keys happens once per batch.
                keyProjection = nn.Linear(encoderSize, decoderSize, hasBias: false);
                break;
            case AttentionKind.Additive:
                keyProjection = nn.Linear(encoderSize, attentionSize, hasBias: false);
                queryProjection = nn.Linear(decoderSize, attentionSize, hasBias: false);
                score = nn.Parameter(zeros(attentionSize));
                break;
        }
        RegisterComponents();
    }

    /// <summary>The kind and, for additive attention, the query projection W_s and score vector v.</summary>
    public (AttentionKind Kind, Tensor? QueryWeight, Tensor? Score) Parts => (kind, queryProjection?.weight, score);

    /// <summary>What each query is compared with: the encoder outputs, projected as the kind needs. (batch, source, k)</summary>
    public Tensor Keys(Tensor encoderOutputs) => keyProjection is null ? encoderOutputs : keyProjection.call(encoderOutputs);

    /// <summary>
    /// Context (batch, encoder) and weights (batch, source) for a query (batch, decoder). Positions where
    /// <paramref name="padding"/> is true get zero weight.
    /// </summary>
    public (Tensor Context, Tensor Weights) Attend(Tensor keys, Tensor values, Tensor query, Tensor? padding)
    {
        Tensor scores = kind == AttentionKind.Additive
            ? FastTanh.Apply(keys + queryProjection!.call(query).unsqueeze(1)).matmul(score!)
            : keys.bmm(query.unsqueeze(2)).squeeze(2);
        if (padding is not null) scores = scores.masked_fill(padding, float.NegativeInfinity);
        var weights = scores.softmax(1);
        return (weights.unsqueeze(1).bmm(values).squeeze(1), weights);
    }
}
