using System.Text.Json;
using System.Text.Json.Serialization;
using Distributed.Models.Data;
using static TorchSharp.torch;

namespace Distributed.Models.Training;

/// <summary>
/// A self-contained checkpoint: options, vocabularies, weights, optimizer state, step, the replica's random
/// generator and its place in the data. A checkpoint alone can be loaded and decoded; resuming from one is exact.
/// </summary>
public static class Checkpoint
{
    const int Magic = 0x51533244; // "D2SQ"
    const int Version = 1;

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    internal static void Write(Trainer trainer, Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
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

    internal static Trainer Read(Stream stream, IReadOnlyList<EncodedExample>? trainExamples, int rank, int worldSize)
    {
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        if (reader.ReadInt32() != Magic) throw new InvalidDataException("not a Distributed checkpoint");
        int version = reader.ReadInt32();
        if (version != Version) throw new InvalidDataException($"checkpoint version {version} is not supported (expected {Version})");
        var model = JsonSerializer.Deserialize<ModelOptions>(reader.ReadString(), Json)!;
        var training = JsonSerializer.Deserialize<TrainingOptions>(reader.ReadString(), Json)!;
        ulong seed = reader.ReadUInt64();
        var vocabularies = Vocabularies.ReadFrom(reader);
        var trainer = new Trainer(model, training, vocabularies, seed, trainExamples, rank, worldSize);
        try
        {
            trainer.Restore(reader.ReadInt64());
            FlatOptimizer.ReadFloats(reader, trainer.Parameters.Values, reader.ReadInt32(), "weights");
            trainer.Optimizer.ReadFrom(reader);
            var state = reader.ReadBytes(reader.ReadInt32());
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
