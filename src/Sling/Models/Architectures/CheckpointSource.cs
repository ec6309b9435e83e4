using Sling.Kernels;

namespace Sling.Models.Architectures;

/// <summary>A Hugging Face checkpoint's tensors, found through a family's name table.</summary>
internal sealed class CheckpointSource(CheckpointReader reader, TensorNames names) : ITensorSource
{
    string Name(TensorRole role, int layer, bool bias) => names.HuggingFace(role, layer) + (bias ? ".bias" : ".weight");

    public bool Has(TensorRole role, int layer = -1, bool bias = false) => names.Knows(role) && reader.Has(Name(role, layer, bias));

    public WeightMatrix Matrix(TensorRole role, int layer, int rows, int cols, bool fused = false) =>
        reader.Matrix(Name(role, layer, false), rows, cols, TensorNames.ShapeFields(role));

    public float[] Vector(TensorRole role, int layer, int length, bool bias = false) =>
        reader.Vector(Name(role, layer, bias), length, TensorNames.ShapeFields(role).Split(',')[0]);

    public bool TiedOutput
    {
        get
        {
            if (reader.Config.Bool("tie_word_embeddings", false)) return true;
            if (!Has(TensorRole.Output))
                throw new Formats.ModelFormatException(reader.Config.Path, $"field 'tie_word_embeddings' is false but the checkpoint has no {Name(TensorRole.Output, -1, false)}");
            return false;
        }
    }

    public IReadOnlyCollection<TensorRole> RequiredBiases => names.RequiredBiases;
}

/// <summary>Tensors already in memory by role (llama2.c checkpoints, which store them by position, not name).</summary>
internal sealed class MemorySource(bool tiedOutput) : ITensorSource
{
    readonly Dictionary<(TensorRole, int), WeightMatrix> _matrices = new();
    readonly Dictionary<(TensorRole, int), float[]> _vectors = new();

    public void Add(TensorRole role, int layer, WeightMatrix matrix) => _matrices[(role, layer)] = matrix;

    public void Add(TensorRole role, int layer, float[] vector) => _vectors[(role, layer)] = vector;

    public bool Has(TensorRole role, int layer = -1, bool bias = false) => !bias && (_matrices.ContainsKey((role, layer)) || _vectors.ContainsKey((role, layer)));

    public WeightMatrix Matrix(TensorRole role, int layer, int rows, int cols, bool fused = false) => _matrices[(role, layer)];

    public float[] Vector(TensorRole role, int layer, int length, bool bias = false) => _vectors[(role, layer)];

    public bool TiedOutput { get; } = tiedOutput;

    public IReadOnlyCollection<TensorRole> RequiredBiases => [];
}
