using System.Numerics.Tensors;
using Sling.Kernels;

namespace Sling.Models;

/// <summary>
/// A decoder-only transformer run one token at a time with a key/value cache. The same code runs
/// every supported architecture; their differences are values in <see cref="TransformerConfig"/>.
/// </summary>
public sealed class Transformer : IDisposable
{
    private readonly RotaryEmbedding _rope;
    private readonly IDisposable[] _resources;
    private readonly float _attentionScale;

    public Transformer(TransformerConfig config, TransformerWeights weights, MatVec matVec, params IDisposable[] resources)
    {
        Config = config;
        Weights = weights;
        MatVec = matVec;
        _resources = resources;
        _rope = new RotaryEmbedding(config);
        _attentionScale = 1f / MathF.Sqrt(config.HeadDim);
    }

    public TransformerConfig Config { get; }
    public TransformerWeights Weights { get; }
    public MatVec MatVec { get; }

    /// <summary>A fresh sequence holding up to <paramref name="contextLength"/> positions (default: the model's whole context).</summary>
    public InferenceState CreateState(int? contextLength = null) => new(Config, Math.Min(contextLength ?? Config.MaxSeqLen, Config.MaxSeqLen));

    /// <summary>
    /// Runs <paramref name="token"/> at <paramref name="position"/> and returns the next-token logits
    /// (a buffer of <paramref name="state"/>, overwritten by the next call). Positions must be fed
    /// in order; the cache holds the earlier ones.
    /// </summary>
    public float[] Forward(InferenceState state, int token, int position, bool computeLogits = true)
    {
        var c = Config;
        if ((uint)token >= (uint)c.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(token), $"token id {token} outside the vocabulary of {c.VocabSize}");
        if ((uint)position >= (uint)state.ContextLength)
            throw new SlingException($"position {position} is past the context length of {state.ContextLength} tokens");

        var x = state.X;
        Weights.Embedding.ReadRow(token, x);
        _rope.SetPosition(position);

        for (int l = 0; l < c.Layers; l++)
        {
            var layer = Weights.Layers[l];
            Normalize(layer.AttentionNorm, x, state.Normed);
            Attention(state, layer, l, position);
            if (c.ParallelResidual)
            {
                Mlp(state, layer);
                TensorPrimitives.Add(x, state.Projected, x);
                TensorPrimitives.Add(x, state.MlpOut, x);
            }
            else
            {
                TensorPrimitives.Add(x, state.Projected, x);
                Normalize(layer.MlpNorm!, x, state.Normed);
                Mlp(state, layer);
                TensorPrimitives.Add(x, state.MlpOut, x);
            }
        }

        if (!computeLogits) return state.Logits;
        Normalize(Weights.FinalNorm, x, state.Normed);
        Apply(Weights.Classifier, state.Normed, state.Logits);
        return state.Logits;
    }

    private void Normalize(NormWeights norm, float[] x, float[] y)
    {
        if (Config.Norm == NormKind.RmsNorm)
            Normalization.RmsNorm(x, norm.Weight, Config.NormEps, y);
        else
            Normalization.LayerNorm(x, norm.Weight, norm.Bias, Config.NormEps, y);
    }

    private void Apply(Linear linear, float[] input, float[] output)
    {
        MatVec.Multiply(linear.Weight, input, output);
        if (linear.Bias != null)
            TensorPrimitives.Add(output.AsSpan(0, linear.Outputs), linear.Bias, output.AsSpan(0, linear.Outputs));
    }

    private void Attention(InferenceState s, LayerWeights layer, int l, int pos)
    {
        var c = Config;
        int headDim = c.HeadDim, kvDim = c.KvDim;
        Apply(layer.Query, s.Normed, s.Query);
        Apply(layer.Key, s.Normed, s.Key);
        Apply(layer.Value, s.Normed, s.Value);
        _rope.Apply(s.Query, c.Heads, headDim);
        _rope.Apply(s.Key, c.KvHeads, headDim);

        var keys = s.KeyCache[l];
        var values = s.ValueCache[l];
        s.Key.AsSpan().CopyTo(keys.AsSpan(pos * kvDim, kvDim));
        s.Value.AsSpan().CopyTo(values.AsSpan(pos * kvDim, kvDim));

        int first = c.SlidingWindow > 0 ? Math.Max(0, pos - c.SlidingWindow + 1) : 0;
        int span = pos - first + 1;
        int group = c.Heads / c.KvHeads;
        MatVec.For(c.Heads, (long)span * headDim * 2, h =>
        {
            var q = s.Query.AsSpan(h * headDim, headDim);
            int kvOffset = h / group * headDim;
            var scores = s.Scores.AsSpan(h * s.ContextLength, span);
            for (int t = 0; t < span; t++)
                scores[t] = TensorPrimitives.Dot(q, keys.AsSpan((first + t) * kvDim + kvOffset, headDim)) * _attentionScale;
            Activations.Softmax(scores);
            var output = s.AttentionOut.AsSpan(h * headDim, headDim);
            output.Clear();
            for (int t = 0; t < span; t++)
                TensorPrimitives.MultiplyAdd(values.AsSpan((first + t) * kvDim + kvOffset, headDim), scores[t], output, output);
        });
        Apply(layer.Output, s.AttentionOut, s.Projected);
    }

    private void Mlp(InferenceState s, LayerWeights layer)
    {
        int hidden = Config.HiddenDim;
        Apply(layer.Up, s.Normed, s.Up);
        if (Config.Mlp == MlpKind.GatedSilu)
        {
            Apply(layer.Gate!, s.Normed, s.Gate);
            Activations.SwiGlu(s.Gate.AsSpan(0, hidden), s.Up.AsSpan(0, hidden));
            Apply(layer.Down, s.Gate, s.MlpOut);
        }
        else
        {
            Activations.GeluTanh(s.Up.AsSpan(0, hidden));
            Apply(layer.Down, s.Up, s.MlpOut);
        }
    }

    /// <summary>Parameters of the model, counting a tied classifier once.</summary>
    public long ParameterCount()
    {
        long n = (long)Weights.Embedding.Rows * Weights.Embedding.Cols + Weights.FinalNorm.Weight.Length;
        if (!ReferenceEquals(Weights.Classifier.Weight, Weights.Embedding))
            n += (long)Weights.Classifier.Weight.Rows * Weights.Classifier.Weight.Cols;
        foreach (var layer in Weights.Layers)
        {
            n += layer.AttentionNorm.Weight.Length + (layer.MlpNorm?.Weight.Length ?? 0);
            foreach (var (_, lin) in layer.Linears())
                n += (long)lin.Outputs * lin.Inputs + (lin.Bias?.Length ?? 0);
        }
        return n;
    }

    public void Dispose()
    {
        foreach (var r in _resources) r.Dispose();
    }
}
