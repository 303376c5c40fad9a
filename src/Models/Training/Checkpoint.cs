using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Distributed.Models.Data;
using static TorchSharp.torch;
using Distributed.Options;

namespace Distributed.Models.Training;

/// <summary>
/// A self-contained checkpoint: options, vocabularies, weights, optimizer state, step, the replica's random
/// generator and its place in the data. A checkpoint alone can be loaded and decoded; resuming from one is exact.
/// Since version 2 the content follows its length and SHA-256, so a truncated or damaged checkpoint is refused
/// with what is wrong instead of being loaded into a model (version 1, without them, still loads).
/// </summary>
public static class Checkpoint
{
    const int Magic = 0x51533244; // "D2SQ"
    const int Version = 2, Unchecked = 1;
    const int HeaderBytes = 4 + 4 + 8 + 32;

    /// <summary>Null when <paramref name="bytes"/> hold a whole checkpoint whose checksum matches; else what is wrong.</summary>
    public static string? Problem(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 8 || BinaryPrimitives.ReadInt32LittleEndian(bytes) != Magic) return $"not a Distributed checkpoint ({bytes.Length:N0} bytes)";
        int version = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]);
        if (version == Unchecked) return null;
        if (version != Version) return $"checkpoint version {version} is not supported (expected {Version})";
        if (bytes.Length < HeaderBytes) return $"truncated: {bytes.Length:N0} bytes, less than its header";
        long length = BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]);
        long actual = bytes.Length - HeaderBytes;
        if (actual != length) return $"truncated or padded: {actual:N0} of {length:N0} bytes of content";
        var expected = bytes.Slice(16, 32);
        return SHA256.HashData(bytes[HeaderBytes..]).AsSpan().SequenceEqual(expected) ? null : $"checksum mismatch over its {length:N0} bytes: it was damaged";
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    internal static void Write(Trainer trainer, Stream stream)
    {
        using var content = new MemoryStream();
        WriteContent(trainer, content);
        var bytes = content.GetBuffer().AsSpan(0, (int)content.Length);
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write((long)bytes.Length);
        writer.Write(SHA256.HashData(bytes));
        writer.Write(bytes);
    }

    static void WriteContent(Trainer trainer, Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(JsonSerializer.Serialize(trainer.ModelOptions, Json));
        writer.Write(JsonSerializer.Serialize(trainer.Options, Json));
        writer.Write(trainer.Seed);
        trainer.Vocabularies.WriteTo(writer);
        writer.Write(trainer.Step);
        writer.Write(trainer.Parameters.Count);
        FlatOptimizer.WriteFloats(writer, trainer.Parameters.Values);
        trainer.Optimizer.WriteTo(writer);
        using (var state = trainer.Model.Generator.get_state())
        {
            var bytes = state.bytes.ToArray();
            writer.Write(bytes.Length);
            writer.Write(bytes);
        }
        writer.Write(trainer.Batches?.Epoch ?? 0);
        writer.Write(trainer.Batches?.Position ?? 0);
    }

    /// <summary>
    /// Reads a trainer back. With options given it goes on with them instead of the stored ones (a PBT member that
    /// copied another explores dropout, learning rate, ...); the model's shape must be the stored one.
    /// </summary>
    internal static Trainer Read(Stream stream, IReadOnlyList<EncodedExample>? trainExamples, int rank, int worldSize,
        (ModelOptions Model, TrainingOptions Training)? options = null)
    {
        var all = new MemoryStream();
        stream.CopyTo(all);
        var bytes = all.GetBuffer().AsSpan(0, (int)all.Length);
        if (Problem(bytes) is { } problem) throw new InvalidDataException(problem);
        int version = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]);
        all.Position = version == Unchecked ? 8 : HeaderBytes;
        using var reader = new BinaryReader(all, System.Text.Encoding.UTF8, leaveOpen: false);
        var model = JsonSerializer.Deserialize<ModelOptions>(reader.ReadString(), Json)!;
        var training = JsonSerializer.Deserialize<TrainingOptions>(reader.ReadString(), Json)!;
        if (options is var (goOnModel, goOnTraining))
        {
            if (goOnModel.Shape() != model.Shape())
                throw new InvalidDataException($"the checkpoint's model ({JsonSerializer.Serialize(model.Shape(), Json)}) is not the shape asked for ({JsonSerializer.Serialize(goOnModel.Shape(), Json)})");
            (model, training) = (goOnModel, goOnTraining);
        }
        ulong seed = reader.ReadUInt64();
        var vocabularies = Vocabularies.ReadFrom(reader);
        var trainer = new Trainer(model, training, vocabularies, seed, trainExamples, rank, worldSize);
        try
        {
            trainer.Restore(reader.ReadInt64());
            FlatOptimizer.ReadFloats(reader, trainer.Parameters.Values, reader.ReadInt32(), "weights");
            trainer.Optimizer.ReadFrom(reader);
            var state = reader.ReadBytes(reader.ReadInt32());
            // libtorch aborts the process on a generator state of the wrong size (an unchecked version-1 file cut short): refuse it first.
            using (var expected = trainer.Model.Generator.get_state())
                if (expected.NumberOfElements != state.Length)
                    throw new InvalidDataException($"damaged: a random generator state of {state.Length:N0} bytes where {expected.NumberOfElements:N0} belong");
            using (var t = tensor(state, dtype: ScalarType.Byte)) trainer.Model.Generator.set_state(t);
            int epoch = reader.ReadInt32(), position = reader.ReadInt32();
            trainer.Batches?.MoveTo(epoch, position);
            return trainer;
        }
        catch
        {
            trainer.Dispose();
            throw;
        }
    }
}
