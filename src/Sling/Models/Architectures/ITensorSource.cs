using Sling.Kernels;

namespace Sling.Models.Architectures;

/// <summary>Where a loader finds each role's tensors (a Hugging Face checkpoint, a GGUF file, a llama2.c checkpoint).</summary>
internal interface ITensorSource
{
    bool Has(TensorRole role, int layer = -1, bool bias = false);

    /// <summary>A [rows, cols] matrix; <paramref name="fused"/> when it will be split into views (read as stored).</summary>
    WeightMatrix Matrix(TensorRole role, int layer, int rows, int cols, bool fused = false);

    float[] Vector(TensorRole role, int layer, int length, bool bias = false);

    /// <summary>True when the classifier is the embedding (tied weights).</summary>
    bool TiedOutput { get; }

    /// <summary>Biases this source's family always has (a missing one is an error).</summary>
    IReadOnlyCollection<TensorRole> RequiredBiases { get; }
}
