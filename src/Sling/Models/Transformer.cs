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

    internal Transformer(TransformerConfig config, TransformerWeights weights, ComputePool pool, params IDisposable[] resources)
    {
        Config = config;
        Weights = RepackForKernels(weights);
        Pool = pool;
        _resources = resources;
        _rope = new RotaryEmbedding(config);
        _attentionScale = 1f / MathF.Sqrt(config.HeadDim);
    }

    // Group-quantized matrices and llama.cpp's block types (fused views split off a file's tensor) take
    // the interleaved layout of the fastest kernel this CPU runs (the
    // stored layout stays the file's). An embedding tied to the classifier is repacked with it: its
    // row lookups decode from the same layout.
    private static TransformerWeights RepackForKernels(TransformerWeights weights)
    {
        long repacked = 0;
        WeightMatrix Repack(WeightMatrix w)
        {
            var r = RepackForKernels(w);
            if (!ReferenceEquals(r, w)) repacked += w.ByteSize;
            return r;
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

    /// <summary>The matrix in the interleaved layout when this CPU's kernels have one for it, else itself.</summary>
    internal static WeightMatrix RepackForKernels(WeightMatrix w) =>
        w is GroupMatrix g && RowBlockMatrix.CanRepack(g) || w is AffineBlockMatrix a && RowBlockMatrix.CanRepack(a) ? RowBlockMatrix.Repack(w) : w;

    public TransformerConfig Config { get; }
    internal TransformerWeights Weights { get; }
    internal ComputePool Pool { get; }

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

    /// <summary>A shared, paged key/value memory of <paramref name="blocks"/> blocks of <paramref name="blockPositions"/> positions.</summary>
    internal KvBlockPool CreateBlockPool(int blockPositions, int blocks) =>
        new(Config.Layers, Config.KvDim, Config.HeadDim, blockPositions, blocks, CachePrecision);

    /// <summary>A sequence whose keys and values live in <paramref name="pool"/>'s blocks (reserve them before its positions are run).</summary>
    internal InferenceState CreateState(int contextLength, int batchCapacity, KvBlockPool pool)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new(Config, Math.Min(contextLength, Config.MaxSeqLen), batchCapacity, pool);
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
        int n = tokens.Length;
        if (n == 0 || n > state.BatchCapacity)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"{n} tokens for a batch of 1..{state.BatchCapacity}");
        var b = state.BuffersFor(n);
        for (int t = 0; t < n; t++)
        {
            b.States[t] = state;
            b.Positions[t] = position + t;
        }
        Span<bool> want = n <= 512 ? stackalloc bool[n] : new bool[n];
        for (int t = rows switch { LogitRows.All => 0, LogitRows.Last => n - 1, _ => n }; t < n; t++) want[t] = true;
        Run(b, tokens, want);
        if (rows == LogitRows.None) return default;
        if (rows == LogitRows.Last) return state.Logits;
        return b.AllLogits(n, Config.VocabSize).AsSpan(0, n * Config.VocabSize);
    }

    /// <summary>A batch for tokens of several sequences in one pass (continuous batching).</summary>
    internal DecodeBatch CreateBatch(int capacity)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), $"batch capacity {capacity} must be positive");
        return new DecodeBatch(Config, capacity);
    }

    /// <summary>
    /// Runs tokens of several sequences in one pass: every weight is read once for all of them. Each
    /// item's position must follow its sequence's cached positions (items of one sequence in order).
    /// Items that want logits get them in their state's <see cref="InferenceState.Logits"/>.
    /// </summary>
    internal void Forward(DecodeBatch batch, ReadOnlySpan<BatchItem> items)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = items.Length;
        if (n == 0 || n > batch.Capacity)
            throw new ArgumentOutOfRangeException(nameof(items), $"{n} items for a batch of 1..{batch.Capacity}");
        var b = batch.Buffers;
        Span<int> tokens = n <= 512 ? stackalloc int[n] : new int[n];
        // Rows that want logits are classified; the others only fill their caches.
        Span<bool> want = n <= 512 ? stackalloc bool[n] : new bool[n];
        for (int t = 0; t < n; t++)
        {
            b.States[t] = items[t].State;
            b.Positions[t] = items[t].Position;
            tokens[t] = items[t].Token;
            want[t] = items[t].WantLogits;
        }
        Run(b, tokens, want);
        Array.Clear(b.States, 0, n);
    }

    /// <summary>
    /// The forward pass over rows whose sequence and position are in <paramref name="b"/>. The rows
    /// that want logits get them, in order, in <see cref="ForwardBuffers.AllLogits"/> and in their states.
    /// </summary>
    private void Run(ForwardBuffers b, ReadOnlySpan<int> tokens, ReadOnlySpan<bool> wantLogits)
    {
        var c = Config;
        int n = tokens.Length, pairs = _rope.Pairs;
        for (int t = 0; t < n; t++)
        {
            if ((uint)tokens[t] >= (uint)c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {tokens[t]} outside the vocabulary of {c.VocabSize}");
            var s = b.States[t];
            if (b.Positions[t] < 0 || b.Positions[t] >= s.ContextLength)
                throw new SlingException($"position {b.Positions[t]} is past the context length of {s.ContextLength} tokens");
        }

        b.SetCount(n);
        var x = b.X;
        for (int t = 0; t < n; t++)
        {
            Weights.Embedding.ReadRow(tokens[t], x.Row(t));
            _rope.Fill(b.Positions[t], 1, b.Cos.AsSpan(t * pairs, pairs), b.Sin.AsSpan(t * pairs, pairs));
        }

        for (int l = 0; l < c.Layers; l++)
        {
            var layer = Weights.Layers[l];
            Normalize(layer.AttentionNorm, x, b.Normed);
            Attention(b, layer, l);
            if (c.ParallelResidual)
            {
                Mlp(b, layer);
                TensorPrimitives.Add(x.Active, b.Projected.Active, x.Active);
                TensorPrimitives.Add(x.Active, b.MlpOut.Active, x.Active);
            }
            else
            {
                TensorPrimitives.Add(x.Active, b.Projected.Active, x.Active);
                Normalize(layer.MlpNorm!, x, b.Normed);
                Mlp(b, layer);
                TensorPrimitives.Add(x.Active, b.MlpOut.Active, x.Active);
            }
        }
        for (int t = 0; t < n; t++)
            b.States[t].Length = Math.Max(b.States[t].Length, b.Positions[t] + 1);

        // Only the rows that want logits are normalized and classified, compacted to the front.
        var normed = b.Normed;
        int k = 0;
        for (int t = 0; t < n; t++)
            if (wantLogits[t]) NormalizeRow(Weights.FinalNorm, x.Row(t), normed.Row(k++));
        if (k == 0) return;
        normed.SetCount(k);
        normed.Changed();
        int vocab = c.VocabSize;
        var logits = b.AllLogits(k, vocab);
        Apply(b, Weights.Classifier, normed, logits);
        // Each sequence's state keeps its latest row's logits: walk back and copy once per sequence.
        int pass = b.NextPass();
        for (int t = n - 1, row = k - 1; t >= 0; t--)
        {
            if (!wantLogits[t]) continue;
            if (b.States[t].LogitsPass != pass) logits.AsSpan(row * vocab, vocab).CopyTo(b.States[t].Logits);
            b.States[t].LogitsPass = pass;
            row--;
        }
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
    /// <summary>Sees every linear layer's input rows before the product (calibration for data-aware quantization).</summary>
    internal Action<Linear, ActivationRows>? InputObserver { get; set; }

    private void Apply(ForwardBuffers s, Linear linear, ActivationRows input, float[] output)
    {
        InputObserver?.Invoke(linear, input);
        s.MatMul.Run(Pool, linear.Weight, input, output, IntegerActivations);
        AddBias(linear, input.Count, output);
    }

    private void Apply(ForwardBuffers s, Linear linear, ActivationRows input, ActivationRows output) => Apply(s, input, (linear, output));

    // Several linears of one input in one parallel operation (q/k/v, gate/up).
    private void Apply(ForwardBuffers s, ActivationRows input, params ReadOnlySpan<(Linear Linear, ActivationRows Output)> linears)
    {
        var list = s.Products(linears.Length);
        for (int i = 0; i < linears.Length; i++) list[i] = (linears[i].Linear.Weight, linears[i].Output);
        if (InputObserver is { } observe)
            foreach (var (linear, _) in linears) observe(linear, input);
        s.MatMul.Run(Pool, input, IntegerActivations, list);
        foreach (var (linear, output) in linears)
        {
            AddBias(linear, input.Count, output.Active);
            output.Changed();
        }
    }

    private static void AddBias(Linear linear, int rows, Span<float> output)
    {
        if (linear.Bias == null) return;
        for (int t = 0; t < rows; t++)
        {
            var row = output.Slice(t * linear.Outputs, linear.Outputs);
            TensorPrimitives.Add(row, linear.Bias, row);
        }
    }

    private void Attention(ForwardBuffers s, LayerWeights layer, int l)
    {
        var c = Config;
        int n = s.X.Count, kvDim = c.KvDim, pairs = _rope.Pairs;
        Apply(s, s.Normed, (layer.Query, s.Query), (layer.Key, s.Key), (layer.Value, s.Value));
        long work = 0;
        for (int t = 0; t < n; t++)
        {
            var cos = s.Cos.AsSpan(t * pairs, pairs);
            var sin = s.Sin.AsSpan(t * pairs, pairs);
            _rope.Apply(s.Query.Row(t), c.Heads, c.HeadDim, cos, sin);
            _rope.Apply(s.Key.Row(t), c.KvHeads, c.HeadDim, cos, sin);
            // Every row's key and value go into its sequence's cache before any row attends.
            s.States[t].Cache.Write(l, s.Positions[t], s.Key.Row(t), s.Value.Row(t));
            work += s.Positions[t] + 1;
        }

        // One job per buffer set, reused for every layer and token (no allocation per token).
        if (s.Attention is not AttentionJob { Model: var owner } job || owner != this) s.Attention = job = new AttentionJob(this, s);
        job.Layer = l;
        int items = job.Plan(n);
        Pool.For(items, work * c.HeadDim * 2 * c.Heads / items, job);
        s.AttentionOut.Changed();
        Apply(s, layer.Output, s.AttentionOut, s.Projected);
    }

    /// <summary>
    /// Attention of the rows' query heads, one key/value head per item. Where the head size has a tile
    /// kernel (<see cref="AttentionTile"/>), an item is a tile: a group's query heads for up to 16 / group
    /// consecutive positions of one sequence, which read each chunk of keys and values once for all of
    /// them, the softmax taken online. Otherwise, and for a tile of one row whose group would fill at
    /// most half the lanes (generation, a batch's single rows), an item is one row's group: scores against its
    /// sequence's cached positions up to its own, softmax, weighted values, the group's heads reading
    /// each chunk while it is in L1.
    /// </summary>
    private sealed class AttentionJob(Transformer model, ForwardBuffers s) : IParallelJob
    {
        [ThreadStatic] private static float[]? _scores;
        private int[] _tiles = new int[2];
        private int _tileCount;
        private bool _tiled;

        public Transformer Model => model;
        public int Layer { get; set; }

        /// <summary>Cuts the pass's <paramref name="n"/> rows into tiles (where the kernel runs); returns the item count.</summary>
        public int Plan(int n)
        {
            var c = model.Config;
            int group = c.Heads / c.KvHeads;
            _tiled = AttentionTile.Supported(c.HeadDim) && group <= AttentionTile.Lanes;
            if (!_tiled) return n * c.KvHeads;
            int rowsPerTile = AttentionTile.Lanes / group;
            if (_tiles.Length < n + 1) _tiles = new int[Math.Max(n + 1, 2 * _tiles.Length)];
            _tileCount = 0;
            for (int t = 0; t < n;)
            {
                int start = t++;
                while (t < n && t - start < rowsPerTile && ReferenceEquals(s.States[t], s.States[start]) && s.Positions[t] == s.Positions[t - 1] + 1) t++;
                _tiles[++_tileCount] = t;
            }
            // An fp16 or int8 cache is widened once per layer for a sequence's rows (a prompt), not per tile.
            for (int start = 0, end; start < n; start = end)
            {
                for (end = start + 1; end < n && ReferenceEquals(s.States[end], s.States[start]); end++) { }
                if (end - start > 1) s.States[start].Cache.WidenSpan(Layer, FirstSeen(s.Positions[start]), s.Positions[end - 1]);
            }
            return _tileCount * c.KvHeads;
        }

        public void Execute(int item)
        {
            var c = model.Config;
            if (!_tiled)
            {
                Row(item / c.KvHeads, item % c.KvHeads);
                return;
            }
            // The last tiles (the longest spans) first, so no thread is left with a long one at the end.
            int index = _tileCount - 1 - item / c.KvHeads, g = item % c.KvHeads;
            int headDim = c.HeadDim, group = c.Heads / c.KvHeads;
            int from = _tiles[index], to = _tiles[index + 1];
            if (to - from == 1 && 2 * group <= AttentionTile.Lanes)
            {
                // One row's group would leave at least half the lanes idle (generation): the per-row
                // kernels do that work in 256-bit vectors instead.
                Row(from, g);
                return;
            }
            var tile = AttentionTile.ForThread();
            tile.Begin(headDim, model._attentionScale);
            int first = int.MaxValue;
            for (int t = from; t < to; t++)
            {
                int pos = s.Positions[t], start = FirstSeen(pos);
                first = Math.Min(first, start);
                var queries = s.Query.Row(t);
                for (int h = 0; h < group; h++) tile.Add(queries.Slice((g * group + h) * headDim, headDim), start, pos);
            }
            s.States[from].Cache.Attend(Layer, g * headDim, tile, first, s.Positions[to - 1]);
            for (int t = from, lane = 0; t < to; t++)
            {
                var output = s.AttentionOut.Row(t);
                for (int h = 0; h < group; h++) tile.Output(lane++, output.Slice((g * group + h) * headDim, headDim));
            }
        }

        // The first position a query at pos sees: 0, or the start of its sliding window.
        private int FirstSeen(int pos) => model.Config.SlidingWindow > 0 ? Math.Max(0, pos - model.Config.SlidingWindow + 1) : 0;

        private void Row(int t, int g)
        {
            var c = model.Config;
            int headDim = c.HeadDim, group = c.Heads / c.KvHeads, pos = s.Positions[t];
            var cache = s.States[t].Cache;
            int first = FirstSeen(pos);
            int span = pos - first + 1;
            var queries = s.Query.Row(t).Slice(g * group * headDim, group * headDim);
            int kvOffset = g * headDim;
            if (_scores == null || _scores.Length < group * span) _scores = new float[Math.Max(group * span, 1024)];
            var scores = _scores.AsSpan(0, group * span);
            cache.Scores(Layer, first, kvOffset, queries, span, scores, model._attentionScale);
            for (int j = 0; j < group; j++) Activations.Softmax(scores.Slice(j * span, span));
            cache.WeightedSum(Layer, first, kvOffset, scores, span, s.AttentionOut.Row(t).Slice(g * group * headDim, group * headDim));
        }
    }

    private void Mlp(ForwardBuffers s, LayerWeights layer)
    {
        if (Config.Mlp == MlpKind.GatedSilu)
        {
            var gate = s.Gate!;
            Apply(s, s.Normed, (layer.Gate!, gate), (layer.Up, s.Up));
            Activations.SwiGlu(gate.Active, s.Up.Active);
            gate.Changed();
            Apply(s, layer.Down, gate, s.MlpOut);
        }
        else
        {
            Apply(s, layer.Up, s.Normed, s.Up);
            Activations.GeluTanh(s.Up.Active);
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
