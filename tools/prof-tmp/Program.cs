using System.Diagnostics;
using Distributed.Models.Data;
using Distributed.Models.Training;
using Distributed.Options;

NativeHeap.Configure();
TorchSharp.torch.set_num_threads(1);
var cell = Enum.Parse<CellKind>(args.Length > 0 ? args[0] : "lstm", true);
int layers = args.Length > 1 ? int.Parse(args[1]) : 2;
bool bidir = args.Length > 2 ? args[2] == "1" : true;
var attention = args.Length > 3 && args[3] == "additive" ? AttentionKind.Additive : AttentionKind.None;
int steps = args.Length > 4 ? int.Parse(args[4]) : 300;
var model = new ModelOptions { EmbeddingSize = 64, HiddenSize = 128, Attention = attention, Cell = cell, Layers = layers, Bidirectional = bidir, Residual = false };
Vocabulary Digits() => Vocabulary.FromTokens("0123456789".Select(c => c.ToString()));
var vocabularies = new Vocabularies(Digits(), Digits(), TokenizationKind.Character);
var pairs = BuiltInTasks.Generate(BuiltInTaskKind.Reverse, (steps + 20) * 64, 10, 10, 42);
var examples = pairs.Select(p => new EncodedExample(vocabularies.EncodeSource(p.Source), vocabularies.EncodeTarget(p.Target))).ToList();
var training = new TrainingOptions { LearningRate = 1e-3, Clip = ClipMode.Norm, ClipThreshold = 1.0, BatchSize = 64 };
using var trainer = new Trainer(model, training, vocabularies, 42);
var clock = new Stopwatch();
for (int step = 0; step < steps + 20; step++)
{
    if (step == 20) clock.Start();
    using var batch = TrainingBatch.From(examples.GetRange(step * 64, 64));
    trainer.TrainStep(batch);
}
Console.WriteLine($"{steps * 64 / clock.Elapsed.TotalSeconds:F1} samples/s");
