using Sling.Formats;
using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

/// <summary>
/// Files that llama.cpp's own llama-quantize wrote (../shared/models/gguf/quant): with exact float
/// activations Sling must reproduce the float64 pass over the weights as llama.cpp decodes them; with
/// its integer kernels (int8 activation blocks) it must stay as close to that exact result as
/// llama.cpp's own logits are (at most 1.1× llama.cpp's relative L2 error).
/// </summary>
public class GgufQuantGoldenTests
{
    private const string Folder = "models/gguf/quant";

    [SharedTheory(Folder + "/model-q8_0.gguf")]
    [InlineData("f32")]
    [MemberData(nameof(SharedData.QuantizedGgufTypes), MemberType = typeof(SharedData))]
    public void LogitsMatchTheReferenceAndStayAsCloseAsLlamaCpp(string type)
    {
        using var golden = SafeTensorsFile.Open(SharedData.PathOf($"{Folder}/golden-{type}.safetensors"));
        var ids = golden.ReadIntegers("input_ids").Select(i => (int)i).ToArray();
        var exact = golden.ReadFloats("logits");
        var llamaCpp = golden.ReadFloats("llamacpp_logits");
        using var model = ModelLoader.LoadTransformer(SharedData.PathOf($"{Folder}/model-{type}.gguf"));
        double llamaCppError = RelativeL2(exact, llamaCpp);

        model.IntegerActivations = false;
        double decoded = RelativeL2(exact, Flatten(Engine.BatchLogits(model, ids, 8)));
        Assert.True(decoded < 1e-4, $"{type}: exact activations, relative L2 {decoded:E2}");

        model.IntegerActivations = true;
        double integer = RelativeL2(exact, Flatten(Engine.BatchLogits(model, ids, 8)));
        double stepwise = RelativeL2(exact, Flatten(Engine.Logits(model, ids)));
        Assert.True(integer <= 1.1 * llamaCppError + 1e-6, $"{type}: integer kernels {integer:E3}, llama.cpp {llamaCppError:E3}");
        // The batch changes only the order of work: its attention runs in tiles (AttentionTile), a token
        // at a time runs the per-row kernels, and int8 activations can round a last bit apart
        // (measured: up to 5e-5 here, against errors of ~1.3e-2).
        Assert.Equal(integer, stepwise, 1e-4);
    }

    /// <summary>
    /// The whole model on the VNNI kernels assembled at run time and on the .NET kernels gives the same
    /// logits bit for bit: batches of 8 tokens run as full tiles of 4 activation rows on every layout.
    /// </summary>
    [Sling.Tests.Kernels.VnniTheory(Folder + "/model-q8_0.gguf")]
    [MemberData(nameof(SharedData.QuantizedGgufTypes), MemberType = typeof(SharedData))]
    public void TheAssembledKernelsGiveTheNetKernelsLogitsBitForBit(string type)
    {
        var (ids, model, matrices) = Interleaved(type);
        using var _ = model;
        Assert.Contains(matrices, m => m.RunsVnni(m.Cols));
        var assembled = Engine.BatchLogits(model, ids, 8);
        foreach (var m in matrices) m.Vnni = false;
        var net = Engine.BatchLogits(model, ids, 8);
        Assert.Equal(Flatten(net), Flatten(assembled));
    }

    /// <summary>
    /// The whole model with the AVX2 tile kernels assembled at run time (Q4_0's, Q4_K's, Q6_K's, Q8_0's
    /// and Q5_0's blocks) and with the .NET AVX2 kernels alone gives the same logits bit for bit: batches of
    /// 8 tokens run as full tiles of 4 activation rows.
    /// </summary>
    [Sling.Tests.Kernels.Avx2AssembledTheory(Folder + "/model-q8_0.gguf")]
    [MemberData(nameof(SharedData.QuantizedGgufTypes), MemberType = typeof(SharedData))]
    public void TheAssembledAvx2TilesGiveTheNetKernelsLogitsBitForBit(string type)
    {
        var (ids, model, matrices) = Interleaved(type);
        using var _ = model;
        foreach (var m in matrices) (m.Isa, m.Vnni, m.AssembledAvx2) = (Sling.Kernels.KernelIsa.Avx2, false, true);
        var assembled = Engine.BatchLogits(model, ids, 8);
        if (type is "q4_0" or "q8_0" or "q5_0" or "q4_k_m" or "q6_k") Assert.Contains(matrices, m => m.FoundAssembledAvx2);
        foreach (var m in matrices) m.AssembledAvx2 = false;
        var net = Engine.BatchLogits(model, ids, 8);
        Assert.Equal(Flatten(net), Flatten(assembled));
    }

    /// <summary>
    /// The whole model on the AVX-VNNI path (its exact AVX2 form where the CPU lacks it) gives the AVX2
    /// path's logits bit for bit, in batches of 8 (full tiles) and a token at a time (generation's row).
    /// </summary>
    [SharedTheory(Folder + "/model-q8_0.gguf")]
    [MemberData(nameof(SharedData.QuantizedGgufTypes), MemberType = typeof(SharedData))]
    public void TheAvxVnniPathGivesTheAvx2PathsLogitsBitForBit(string type)
    {
        if (!Sling.Kernels.KernelIsas.Runs(Sling.Kernels.KernelIsa.Avx2)) return; // no interleaved layouts below AVX2
        var (all, model, matrices) = Interleaved(type);
        using var _ = model;
        var ids = all.Take(12).ToArray();
        float[] Run(Sling.Kernels.KernelIsa isa)
        {
            foreach (var m in matrices) (m.Isa, m.Vnni) = (isa, false);
            return [.. Flatten(Engine.BatchLogits(model, ids, 8)), .. Flatten(Engine.Logits(model, ids))];
        }
        var avx2 = Run(Sling.Kernels.KernelIsa.Avx2);
        var avxVnni = Run(Sling.Kernels.KernelIsa.AvxVnni);
        Assert.Equal(avx2, avxVnni);
    }

    /// <summary>A golden file's input ids, its model, and the model's matrices in the interleaved layouts (at least one).</summary>
    private static (int[] Ids, Transformer Model, List<Sling.Kernels.RowBlockMatrix> Matrices) Interleaved(string type)
    {
        using var golden = SafeTensorsFile.Open(SharedData.PathOf($"{Folder}/golden-{type}.safetensors"));
        var ids = golden.ReadIntegers("input_ids").Select(i => (int)i).ToArray();
        var model = ModelLoader.LoadTransformer(SharedData.PathOf($"{Folder}/model-{type}.gguf"));
        var matrices = InterleavedMatrices(model);
        Assert.NotEmpty(matrices);
        return (ids, model, matrices);
    }

    /// <summary>The model's projections and classifier that loaded into the interleaved layouts.</summary>
    private static List<Sling.Kernels.RowBlockMatrix> InterleavedMatrices(Transformer model) =>
        model.Weights.Layers.SelectMany(l => l.Linears()).Select(x => x.Linear.Weight)
            .Append(model.Weights.Classifier.Weight).OfType<Sling.Kernels.RowBlockMatrix>().ToList();

    private static float[] Flatten(float[][] rows) => rows.SelectMany(r => r).ToArray();

    private static double RelativeL2(float[] reference, float[] actual)
    {
        Assert.Equal(reference.Length, actual.Length);
        double num = 0, den = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = actual[i] - (double)reference[i];
            num += d * d;
            den += (double)reference[i] * reference[i];
        }
        return Math.Sqrt(num / den);
    }
}
