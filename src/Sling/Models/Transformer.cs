using System.Numerics.Tensors;
using Sling.Kernels;

namespace Sling.Models;

/// <summary>
/// A decoder-only transformer with a key/value cache, run on a batch of consecutive tokens at a time
/// (a prompt chunk, or one token while generating). Every projection is a matrix × batch product; the
/// same code runs every supported architecture, whose differences are values in <see cref="TransformerConfig"/>.
/// </summary>
public sealed class Transformer : IDisposable
{
    private readonly RotaryEmbedding _rope;
    private readonly IDisposable[] _resources;
    private readonly float _attentionScale;
    private bool _disposed;

    public Transformer(TransformerConfig config, TransformerWeights weights, ComputePool pool, params IDisposable[] resources)
    {
        Config = config;
        Weights = RepackForKernels(weights);
        Pool = pool;
        _resources = resources;
        _rope = new RotaryEmbedding(config);
        _attentionScale = 1f / MathF.Sqrt(config.HeadDim);
    }

    // Group-quantized matrices take the interleaved layout of the fastest kernel this CPU runs (the
    // stored layout stays the file's). An embedding tied to the classifier is repacked with it: its
    // row lookups decode from the same layout.
    private static TransformerWeights RepackForKernels(TransformerWeights weights)
    {
        long repacked = 0;
        WeightMatrix Repack(WeightMatrix w)
        {
            if (w is not GroupMatrix m || !RowBlockMatrix.CanRepack(m)) return w;
            repacked += m.ByteSize;
            return RowBlockMatrix.Repack(m);
        }
        foreach (var linear in weights.Layers.SelectMany(l => l.Linears().Select(x => x.Linear)))
            linear.Weight = Repack(linear.Weight);
        if (!ReferenceEquals(weights.Classifier.Weight, weights.Embedding))
            weights.Classifier.Weight = Repack(weights.Classifier.Weight);
        else if (Repack(weights.Embedding) is var tied && !ReferenceEquals(tied, weights.Embedding))
            weights = new TransformerWeights
            {
                Embedding = tied, Layers = weights.Layers, FinalNorm = weights.FinalNorm, Classifier = new Linear(tied, weights.Classifier.Bias),
            };
        // The copies repacked from (a file's blocks, a quantizer's arrays) are garbage now: hand the
        // memory back, so the process holds one copy of the weights while it generates.
        if (repacked > 64 << 20) GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return weights;
    }

    public TransformerConfig Config { get; }
    public TransformerWeights Weights { get; }
    public ComputePool Pool { get; }

    /// <summary>
    /// True (the default): quantized weights multiply activations quantized to int8 blocks (integer
    /// dot products, as llama.cpp does). False: exact float activations (slower; for checking decoding).
    /// </summary>
    public bool IntegerActivations { get; set; } = true;

    /// <summary>A fresh sequence holding up to <paramref name="contextLength"/> positions (default: the model's whole context).</summary>
    public InferenceState CreateState(int? contextLength = null, int batchCapacity = InferenceState.DefaultBatchCapacity, KvCachePrecision? cachePrecision = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new(Config, Math.Min(contextLength ?? Config.MaxSeqLen, Config.MaxSeqLen), batchCapacity, cachePrecision ?? CachePrecision);
    }

    /// <summary>How new states store keys and values (fp32 by default: exact).</summary>
    public KvCachePrecision CachePrecision { get; set; } = KvCachePrecision.F32;

    /// <summary>
    /// Runs <paramref name="token"/> at <paramref name="position"/> and returns the next-token logits
    /// (a buffer of <paramref name="state"/>, overwritten by the next call). Positions must be fed
    /// in order; the cache holds the earlier ones.
    /// </summary>
    public float[] Forward(InferenceState state, int token, int position, bool computeLogits = true)
    {
        Forward(state, [token], position, computeLogits ? LogitRows.Last : LogitRows.None);
        return state.Logits;
    }

    /// <summary>
    /// Runs all of <paramref name="tokens"/> (consecutive positions from <paramref name="position"/>, at
    /// most the state's batch capacity) in one pass. Returns the logits <paramref name="rows"/> asks for:
    /// the last token's (vocabulary long, also in <see cref="InferenceState.Logits"/>), every token's
    /// (tokens × vocabulary), or none.
    /// </summary>
    public ReadOnlySpan<float> Forward(InferenceState state, ReadOnlySpan<int> tokens, int position, LogitRows rows = LogitRows.Last)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var c = Config;
        int n = tokens.Length;
        if (n == 0 || n > state.BatchCapacity)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"{n} tokens for a batch of 1..{state.BatchCapacity}");
        foreach (int token in tokens)
            if ((uint)token >= (uint)c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {token} outside the vocabulary of {c.VocabSize}");
        if (position < 0 || position + n > state.ContextLength)
            throw new SlingException($"position {position + n - 1} is past the context length of {state.ContextLength} tokens");

        foreach (var buffer in new[] { state.X, state.Normed, state.Query, state.Key, state.Value, state.AttentionOut, state.Projected, state.Gate, state.Up, state.MlpOut })
            buffer.SetCount(n);
        var x = state.X;
        for (int t = 0; t < n; t++) Weights.Embedding.ReadRow(tokens[t], x.Row(t));
        _rope.Fill(position, n, state.Cos, state.Sin);

        for (int l = 0; l < c.Layers; l++)
        {
            var layer = Weights.Layers[l];
            Normalize(layer.AttentionNorm, x, state.Normed);
            Attention(state, layer, l, position);
            if (c.ParallelResidual)
            {
                Mlp(state, layer);
                TensorPrimitives.Add(x.Active, state.Projected.Active, x.Active);
                TensorPrimitives.Add(x.Active, state.MlpOut.Active, x.Active);
            }
            else
            {
                TensorPrimitives.Add(x.Active, state.Projected.Active, x.Active);
                Normalize(layer.MlpNorm!, x, state.Normed);
                Mlp(state, layer);
                TensorPrimitives.Add(x.Active, state.MlpOut.Active, x.Active);
            }
        }
        state.Length = position + n;

        if (rows == LogitRows.None) return default;
        var normed = state.Normed;
        if (rows == LogitRows.Last)
        {
            // Only the last token's logits: normalize that row alone and classify one row.
            normed.SetCount(1);
            NormalizeRow(Weights.FinalNorm, x.Row(n - 1), normed.Row(0));
            Apply(state, Weights.Classifier, normed, state.Logits);
            return state.Logits;
        }
        Normalize(Weights.FinalNorm, x, normed);
        var all = state.AllLogits(n, c.VocabSize);
        Apply(state, Weights.Classifier, normed, all);
        all.AsSpan(0, n * c.VocabSize).Slice((n - 1) * c.VocabSize, c.VocabSize).CopyTo(state.Logits);
        return all.AsSpan(0, n * c.VocabSize);
    }

    /// <summary>
    /// Feeds <paramref name="tokens"/> from <paramref name="position"/> in batches of the state's capacity
    /// and returns the last token's logits (the state's buffer).
    /// </summary>
    public float[] Prefill(InferenceState state, ReadOnlySpan<int> tokens, int position)
    {
        for (int start = 0; start < tokens.Length; start += state.BatchCapacity)
        {
            int count = Math.Min(state.BatchCapacity, tokens.Length - start);
            Forward(state, tokens.Slice(start, count), position + start, start + count == tokens.Length ? LogitRows.Last : LogitRows.None);
        }
        return state.Logits;
    }

    /// <summary>
    /// Feeds <paramref name="tokens"/> in batches and calls <paramref name="onLogits"/> with each position
    /// (relative to the start) from <paramref name="firstScored"/> on and the logits that followed it.
    /// </summary>
    public void ForEachLogits(InferenceState state, IReadOnlyList<int> tokens, int firstScored, Action<int, ReadOnlySpan<float>> onLogits)
    {
        int vocab = Config.VocabSize;
        var chunk = new int[state.BatchCapacity];
        for (int start = 0; start < tokens.Count; start += state.BatchCapacity)
        {
            int count = Math.Min(state.BatchCapacity, tokens.Count - start);
            for (int i = 0; i < count; i++) chunk[i] = tokens[start + i];
            bool needed = start + count > firstScored;
            var logits = Forward(state, chunk.AsSpan(0, count), start, needed ? LogitRows.All : LogitRows.None);
            if (!needed) continue;
            for (int i = Math.Max(0, firstScored - start); i < count; i++)
                onLogits(start + i, logits.Slice(i * vocab, vocab));
        }
    }

    private void Normalize(NormWeights norm, ActivationRows x, ActivationRows y)
    {
        for (int t = 0; t < x.Count; t++) NormalizeRow(norm, x.Row(t), y.Row(t));
        y.Changed();
    }

    private void NormalizeRow(NormWeights norm, ReadOnlySpan<float> x, Span<float> y)
    {
        if (Config.Norm == NormKind.RmsNorm)
            Normalization.RmsNorm(x, norm.Weight, Config.NormEps, y);
        else
            Normalization.LayerNorm(x, norm.Weight, norm.Bias, Config.NormEps, y);
    }

    // output rows ← linear(input rows); output is an ActivationRows buffer or the logits.
    private void Apply(InferenceState s, Linear linear, ActivationRows input, float[] output)
    {
        s.MatMul.Run(Pool, linear.Weight, input, output, IntegerActivations);
        AddBias(linear, input.Count, output);
    }

    private void Apply(InferenceState s, Linear linear, ActivationRows input, ActivationRows output)
    {
        Apply(s, linear, input, output.Data);
        output.Changed();
    }

    // Several linears of one input in one parallel operation (q/k/v, gate/up).
    private void Apply(InferenceState s, ActivationRows input, params ReadOnlySpan<(Linear Linear, ActivationRows Output)> linears)
    {
        var list = s.Products(linears.Length);
        for (int i = 0; i < linears.Length; i++) list[i] = (linears[i].Linear.Weight, linears[i].Output.Data);
        s.MatMul.Run(Pool, input, IntegerActivations, list);
        foreach (var (linear, output) in linears)
        {
            AddBias(linear, input.Count, output.Data);
            output.Changed();
        }
    }

    private static void AddBias(Linear linear, int rows, float[] output)
    {
        if (linear.Bias == null) return;
        for (int t = 0; t < rows; t++)
        {
            var row = output.AsSpan(t * linear.Outputs, linear.Outputs);
            TensorPrimitives.Add(row, linear.Bias, row);
        }
    }

    private void Attention(InferenceState s, LayerWeights layer, int l, int position)
    {
        var c = Config;
        int n = s.X.Count, kvDim = c.KvDim, pairs = _rope.Pairs;
        Apply(s, s.Normed, (layer.Query, s.Query), (layer.Key, s.Key), (layer.Value, s.Value));
        for (int t = 0; t < n; t++)
        {
            var cos = s.Cos.AsSpan(t * pairs, pairs);
            var sin = s.Sin.AsSpan(t * pairs, pairs);
            _rope.Apply(s.Query.Row(t), c.Heads, c.HeadDim, cos, sin);
            _rope.Apply(s.Key.Row(t), c.KvHeads, c.HeadDim, cos, sin);
        }
        s.Cache.Write(l, position, s.Key.Active, s.Value.Active);

        var job = new AttentionJob(this, s, l, position);
        Pool.For(c.Heads * n, (long)(position + n) * c.HeadDim * 2, job);
        s.AttentionOut.Changed();
        Apply(s, layer.Output, s.AttentionOut, s.Projected);
    }

    /// <summary>One head of one token: scores against every cached position up to its own, softmax, weighted values.</summary>
    private sealed class AttentionJob(Transformer model, InferenceState s, int layer, int position) : IParallelJob
    {
        [ThreadStatic] private static float[]? _scores;

        public void Execute(int item)
        {
            var c = model.Config;
            int headDim = c.HeadDim, kvDim = c.KvDim, group = c.Heads / c.KvHeads;
            int t = item / c.Heads, h = item % c.Heads, pos = position + t;
            int first = c.SlidingWindow > 0 ? Math.Max(0, pos - c.SlidingWindow + 1) : 0;
            int span = pos - first + 1;
            var q = s.Query.Row(t).Slice(h * headDim, headDim);
            int kvOffset = h / group * headDim;
            if (_scores == null || _scores.Length < span) _scores = new float[Math.Max(span, s.ContextLength)];
            var scores = _scores.AsSpan(0, span);
            s.Cache.Scores(layer, first, kvOffset, q, scores, model._attentionScale);
            Activations.Softmax(scores);
            s.Cache.WeightedSum(layer, first, kvOffset, scores, s.AttentionOut.Row(t).Slice(h * headDim, headDim));
        }
    }

    private void Mlp(InferenceState s, LayerWeights layer)
    {
        int n = s.X.Count, hidden = Config.HiddenDim;
        if (Config.Mlp == MlpKind.GatedSilu)
        {
            Apply(s, s.Normed, (layer.Gate!, s.Gate), (layer.Up, s.Up));
            Activations.SwiGlu(s.Gate.Data.AsSpan(0, n * hidden), s.Up.Data.AsSpan(0, n * hidden));
            s.Gate.Changed();
            Apply(s, layer.Down, s.Gate, s.MlpOut);
        }
        else
        {
            Apply(s, layer.Up, s.Normed, s.Up);
            Activations.GeluTanh(s.Up.Data.AsSpan(0, n * hidden));
            s.Up.Changed();
            Apply(s, layer.Down, s.Up, s.MlpOut);
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
        if (_disposed) return;
        _disposed = true;
        foreach (var r in _resources) r.Dispose();
    }
}

/// <summary>Which tokens of a forward pass get next-token logits.</summary>
public enum LogitRows
{
    /// <summary>Only the last token (prompt processing, generation).</summary>
    Last,
    /// <summary>Every token (perplexity, comparison).</summary>
    All,
    /// <summary>None (filling the cache).</summary>
    None,
}
