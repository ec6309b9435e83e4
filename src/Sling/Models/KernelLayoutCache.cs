using Sling.Formats;
using Sling.Kernels;
using Sling.Models.Architectures;

namespace Sling.Models;

/// <summary>
/// Weights repacked for this CPU's kernels, kept in the model cache (as OpenVINO keeps a compiled
/// model in its CACHE_DIR): the first load repacks the model's blocks and stores the result; the next
/// reads the stored buffers instead, with nothing decoded or rearranged. Keyed by the model's files
/// (names, sizes, times), the layout version and the kernels' instruction set. A tensor the entry
/// lacks, or an entry that cannot be read, is repacked from the model as if there were no entry.
/// </summary>
internal sealed class KernelLayoutCache
{
    /// <summary>Models whose repacked weights are smaller than this repack fast enough to skip the disk.</summary>
    internal const long DefaultMinimumBytes = 64L << 20;

    private readonly ModelCache _cache;
    private readonly ModelCache.Source _source;
    private readonly LoadOptions _options;
    private readonly Dictionary<string, RowBlockMatrix>? _stored;
    private readonly List<(string Slot, RowBlockMatrix Matrix)> _made = [];

    private KernelLayoutCache(ModelCache cache, ModelCache.Source source, LoadOptions options, Dictionary<string, RowBlockMatrix>? stored)
    {
        _cache = cache;
        _source = source;
        _options = options;
        _stored = stored;
    }

    /// <summary>The cache for a model made of <paramref name="files"/>, with its stored layout read if there is one; null when it does not apply.</summary>
    public static KernelLayoutCache? Open(string folder, IEnumerable<string> files, LoadOptions options)
    {
        if (!options.KeepKernelLayout || KernelIsas.Best < KernelIsa.Avx2) return null; // no interleaved kernels below AVX2
        var cache = options.Cache ?? ModelCache.Default();
        var source = ModelCache.Source.Of(folder, files, $"kernel-layout={KernelLayoutFile.Version} isa={KernelIsas.Best}");
        if (cache.Find(source) is not { } entry) return new KernelLayoutCache(cache, source, options, null);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            var stored = KernelLayoutFile.Read(entry);
            options.Log?.Invoke($"weights in the kernels' layout from the cache ({stored.Values.Sum(m => m.ByteSize) / 1e6:F0} MB in {clock.Elapsed.TotalSeconds:F2} s): {entry}");
            return new KernelLayoutCache(cache, source, options, stored);
        }
        catch (Exception e) when (e is ModelFormatException or IOException or UnauthorizedAccessException)
        {
            options.Log?.Invoke($"note: the cached kernel layout cannot be read ({e.Message}); repacking from the model");
            try
            {
                Directory.Delete(entry, recursive: true);
            }
            catch (IOException) { } // another process may be reading it; a later load retries
            catch (UnauthorizedAccessException) { }
            return new KernelLayoutCache(cache, source, options, null);
        }
    }

    /// <summary>True when the weights came from a stored entry.</summary>
    public bool Hit => _stored != null;

    /// <summary><paramref name="inner"/>, with matrices taken from the stored entry or repacked and noted for <see cref="Keep"/>.</summary>
    public ITensorSource Wrap(ITensorSource inner) => new Source(this, inner);

    /// <summary>After a load without an entry: stores what was repacked, when it is large enough to be worth the disk.</summary>
    public void Keep()
    {
        if (Hit || _made.Count == 0) return;
        long bytes = _made.Sum(m => m.Matrix.ByteSize);
        if (bytes < _options.KernelLayoutMinimumBytes) return;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            var (path, _) = _cache.GetOrCreate(_source, dir => KernelLayoutFile.Write(dir, _made));
            _options.Log?.Invoke($"kept the weights in the kernels' layout in the cache ({bytes / 1e6:F0} MB in {clock.Elapsed.TotalSeconds:F2} s): {path}");
        }
        catch (Exception e) when (e is SlingException or IOException)
        {
            // The model is loaded; without the entry the next load repacks again.
            _options.Log?.Invoke($"note: the kernel layout was not cached ({e.Message})");
        }
    }

    private sealed class Source(KernelLayoutCache owner, ITensorSource inner) : ITensorSource
    {
        public WeightMatrix Matrix(TensorRole role, int layer, int rows, int cols, bool fused = false)
        {
            // A fused tensor is split into views before the layout is chosen; it is read as stored.
            if (fused) return inner.Matrix(role, layer, rows, cols, fused);
            string slot = $"{role}/{layer}";
            if (owner._stored is { } stored && stored.Remove(slot, out var kept) && kept.Rows == rows && kept.Cols == cols) return kept;
            var w = inner.Matrix(role, layer, rows, cols);
            // As the transformer would: an embedding is repacked only when it is the classifier too.
            if (role != TensorRole.Embedding || inner.TiedOutput) w = Transformer.RepackForKernels(w);
            if (w is RowBlockMatrix repacked) owner._made.Add((slot, repacked));
            return w;
        }

        public bool Has(TensorRole role, int layer = -1, bool bias = false) => inner.Has(role, layer, bias);
        public float[] Vector(TensorRole role, int layer, int length, bool bias = false) => inner.Vector(role, layer, length, bias);
        public bool TiedOutput => inner.TiedOutput;
        public IReadOnlyCollection<TensorRole> RequiredBiases => inner.RequiredBiases;
    }
}
