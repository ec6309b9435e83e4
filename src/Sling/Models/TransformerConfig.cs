namespace Sling.Models;

/// <summary>How consecutive dimensions of a head are paired for rotary position embedding.</summary>
internal enum RopeLayout
{
    /// <summary>Pairs (2i, 2i+1): Meta's original Llama code and llama2.c checkpoints.</summary>
    Interleaved,
    /// <summary>Pairs (i, i + d/2): Hugging Face checkpoints, whose q/k weights are permuted to match.</summary>
    RotateHalf,
}

internal enum NormKind { RmsNorm, LayerNorm }

internal enum MlpKind
{
    /// <summary>down(silu(gate(x)) * up(x)): Llama, Mistral, Qwen2, Phi-3.</summary>
    GatedSilu,
    /// <summary>fc2(gelu_new(fc1(x))): Phi-1/1.5/2.</summary>
    Gelu,
}

/// <summary>Llama 3's frequency-dependent stretch of the rotary frequencies (rope_scaling type "llama3").</summary>
public sealed record Llama3RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositions);

/// <summary>
/// Architecture-neutral hyperparameters of a decoder-only transformer. Each supported architecture
/// is a particular choice of these (see the loaders in Models/), run by one <see cref="Transformer"/>.
/// </summary>
public sealed record TransformerConfig
{
    public required string Architecture { get; init; }
    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int VocabSize { get; init; }
    public required int MaxSeqLen { get; init; }
    public int? HeadDimOverride { get; init; }
    public int HeadDim => HeadDimOverride ?? Dim / Heads;
    public int QDim => Heads * HeadDim;
    public int KvDim => KvHeads * HeadDim;

    internal NormKind Norm { get; init; } = NormKind.RmsNorm;
    public float NormEps { get; init; } = 1e-5f;
    internal MlpKind Mlp { get; init; } = MlpKind.GatedSilu;
    /// <summary>Attention and MLP both read the same normed input and add to the residual together (Phi).</summary>
    public bool ParallelResidual { get; init; }

    internal RopeLayout Rope { get; init; } = RopeLayout.RotateHalf;
    public double RopeTheta { get; init; } = 10000.0;
    /// <summary>How many leading dimensions of each head are rotated (Phi rotates only a fraction).</summary>
    public int? RotaryDimOverride { get; init; }
    public int RotaryDim => RotaryDimOverride ?? HeadDim;
    public Llama3RopeScaling? Llama3Scaling { get; init; }
    /// <summary>Per-pair divisors of the rotary frequencies, as llama.cpp's <c>rope_freqs</c> tensor stores Llama 3's scaling.</summary>
    public float[]? RopeFrequencyFactors { get; init; }
    /// <summary>Linear position interpolation (rope_scaling type "linear"): positions divided by this.</summary>
    public double LinearRopeFactor { get; init; } = 1.0;
    /// <summary>0 = attend to the whole context; otherwise only the last N positions (Mistral).</summary>
    public int SlidingWindow { get; init; }

    /// <summary>Throws when the numbers cannot describe a working model.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new Formats.ModelFormatException(source, what);
        }
        Require(Dim > 0, $"hidden size must be positive (got {Dim})");
        Require(HiddenDim > 0, $"intermediate size must be positive (got {HiddenDim})");
        Require(Layers > 0, $"layer count must be positive (got {Layers})");
        Require(Heads > 0, $"head count must be positive (got {Heads})");
        Require(HeadDimOverride != null || Dim % Heads == 0, $"hidden size {Dim} is not divisible by the head count {Heads}");
        Require(KvHeads > 0 && KvHeads <= Heads && Heads % KvHeads == 0,
            $"key/value head count {KvHeads} must divide the head count {Heads}");
        Require(HeadDim > 0 && HeadDim % 2 == 0, $"head dimension {HeadDim} must be positive and even");
        Require(RotaryDim > 0 && RotaryDim <= HeadDim && RotaryDim % 2 == 0, $"rotary dimension {RotaryDim} must be even and at most the head dimension {HeadDim}");
        Require(VocabSize > 0, $"vocabulary size must be positive (got {VocabSize})");
        Require(MaxSeqLen > 0, $"context length must be positive (got {MaxSeqLen})");
        Require(double.IsFinite(RopeTheta) && RopeTheta > 0, $"rope theta must be a positive number (got {RopeTheta})");
        Require(float.IsFinite(NormEps) && NormEps >= 0, $"normalization epsilon must be a number of 0 or more (got {NormEps})");
        Require(double.IsFinite(LinearRopeFactor) && LinearRopeFactor > 0, $"rope scaling factor must be positive (got {LinearRopeFactor})");
        Require(SlidingWindow >= 0, $"sliding window must be 0 (none) or positive (got {SlidingWindow})");
        if (RopeFrequencyFactors is { } factors)
            Require(factors.Length == RotaryDim / 2 && factors.All(f => float.IsFinite(f) && f > 0),
                $"rope_freqs must hold {RotaryDim / 2} positive factors, one per rotary pair (got {factors.Length})");
        if (Llama3Scaling is { } s)
            Require(double.IsFinite(s.Factor) && s.Factor > 0 && double.IsFinite(s.LowFreqFactor) && s.LowFreqFactor > 0
                    && double.IsFinite(s.HighFreqFactor) && s.HighFreqFactor > s.LowFreqFactor && s.OriginalMaxPositions > 0,
                $"llama3 rope scaling needs positive factors with high_freq_factor above low_freq_factor (got {s})");
    }
}
