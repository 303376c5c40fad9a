using static Distributed.Models.TensorMemory;
using static TorchSharp.torch;

namespace Distributed.Models.Network;

/// <summary>Scheduled sampling's record for backward: the tokens it chose and their masked embeddings (time, batch, embedding).</summary>
sealed record Sampled(Tensor Tokens, Tensor Embedded, Tensor? EmbeddingMask, Tensor EmbeddingWeight, long Vocabulary);

/// <summary>
/// Scheduled sampling inside the loop: picks each step's tokens (the truth, or the previous step's argmax), writes
/// their masked embeddings' transform into the first layer's input, and predicts from each step's features.
/// </summary>
sealed unsafe class TokenSampler : IDisposable
{
    readonly int batch, width, hidden, context, embedding, vocabulary, features;
    readonly Tensor table, tokens, embedded, predicted, featureRow, logits;
    readonly Tensor? embeddingMask, outputMask;
    readonly Tensor truth, useTruth, outputBias, embeddingWeight;
    readonly long inputVocabulary;
    readonly PackedWeight packedEmbedding, packedOutput;

    public TokenSampler(FusedAttentionDecoder.Sampling sampling, int batch, int width, int hidden, int context)
    {
        this.batch = batch;
        this.width = width;
        this.hidden = hidden;
        this.context = context;
        table = sampling.Embedding.contiguous();
        embeddingWeight = sampling.EmbeddingWeight;
        embeddingMask = sampling.EmbeddingMask?.contiguous();
        truth = sampling.Truth.contiguous();
        useTruth = sampling.UseTruth.to(ScalarType.Byte).contiguous();
        var outputWeight = sampling.OutputWeight.contiguous();
        outputBias = sampling.OutputBias.contiguous();
        outputMask = sampling.OutputMask?.contiguous();
        inputVocabulary = table.shape[0];
        embedding = (int)table.shape[1];
        vocabulary = (int)outputWeight.shape[0];
        features = (int)outputWeight.shape[1];
        int time = (int)truth.shape[0];
        tokens = empty(time, batch, dtype: ScalarType.Int64);
        embedded = empty(time, batch, embedding);
        predicted = zeros(batch, dtype: ScalarType.Int64);
        featureRow = empty(batch, features);
        logits = empty(batch, vocabulary);
        var (we, ldWe) = Matrix(embeddingWeight);
        packedEmbedding = new PackedWeight((float*)we, ldWe, batch, width, embedding, transpose: true);
        packedOutput = new PackedWeight(Floats(outputWeight), features, batch, vocabulary, features, transpose: true);
    }

    /// <summary>Step t's tokens, and target += (E[token] ⊙ mask)·W_eᵀ.</summary>
    public void Embed(int t, float* target)
    {
        long* chosen = Longs(tokens) + (long)t * batch, pTruth = Longs(truth) + (long)t * batch;
        long* previous = Longs(predicted);
        byte* use = Bytes(useTruth) + (long)t * batch;
        float* rows = Floats(embedded) + (long)t * batch * embedding, pTable = Floats(table);
        for (int b = 0; b < batch; b++)
        {
            long token = t == 0 || use[b] != 0 ? pTruth[b] : previous[b];
            chosen[b] = token;
            new Span<float>(pTable + token * embedding, embedding).CopyTo(new Span<float>(rows + (long)b * embedding, embedding));
        }
        if (embeddingMask is not null)
            RecurrenceKernels.Multiply(rows, Floats(embeddingMask) + (long)t * batch * embedding, rows, batch * embedding);
        packedEmbedding.Multiply(rows, embedding, target, width, accumulate: true);
    }

    /// <summary>The argmax of step t's logits from [top; context] ⊙ mask, for the next step.</summary>
    public void Predict(int t, float* top, float* contextRow)
    {
        float* f = Floats(featureRow), l = Floats(logits), bias = Floats(outputBias);
        for (int b = 0; b < batch; b++)
        {
            new Span<float>(top + (long)b * hidden, hidden).CopyTo(new Span<float>(f + (long)b * features, hidden));
            new Span<float>(contextRow + (long)b * context, context).CopyTo(new Span<float>(f + (long)b * features + hidden, context));
            new Span<float>(bias, vocabulary).CopyTo(new Span<float>(l + (long)b * vocabulary, vocabulary));
        }
        if (outputMask is not null) RecurrenceKernels.Multiply(f, Floats(outputMask) + (long)t * batch * features, f, batch * features);
        packedOutput.Multiply(f, features, l, vocabulary, accumulate: true);
        long* previous = Longs(predicted);
        for (int b = 0; b < batch; b++)
        {
            float* row = l + (long)b * vocabulary;
            int best = 0;
            for (int v = 1; v < vocabulary; v++)
                if (row[v] > row[best]) best = v;
            previous[b] = best;
        }
    }

    public Sampled Record() => new(tokens, embedded, embeddingMask, embeddingWeight, inputVocabulary);

    public void Dispose()
    {
        packedEmbedding.Dispose();
        packedOutput.Dispose();
    }
}
