using System.Diagnostics;
using Sling.Models;

namespace Sling.Evaluation;

/// <summary>
/// llama-bench's method: prompt processing (pp, a prompt of N tokens into an empty cache, in batches)
/// and text generation (tg, N tokens one at a time from an empty cache) timed separately, each
/// repeated after one warm-up run, reported as mean ± sample standard deviation of tokens/s. With a
/// depth (llama-bench's -d), both start with that many tokens already in the cache, put there before
/// the runs and not timed: speeds deep into a conversation, where attention reads a long cache.
/// </summary>
public static class SpeedBenchmark
{
    public sealed record Result(string Test, int Tokens, double MeanTokensPerSecond, double StdDevTokensPerSecond, IReadOnlyList<double> Runs)
    {
        /// <summary>Generation only: the process's resident bytes right after the last run, its state still alive.</summary>
        public long ResidentBytes { get; init; }
        /// <summary>Generation only: bytes of the key/value cache the runs used.</summary>
        public long CacheBytes { get; init; }
        /// <summary>Generation only: the machine's read bandwidth (GB/s), passes taken every 16 tokens of each timed run (off the clock), before each run and after the last.</summary>
        public IReadOnlyList<double> Bandwidth { get; init; } = [];
    }

    /// <summary>Bytes of weights one token's forward pass reads (every matrix once; one embedding row).</summary>
    public static long WeightBytesPerToken(Transformer model)
    {
        var w = model.Weights;
        long bytes = w.Layers.SelectMany(l => l.Linears()).Sum(x => x.Linear.Weight.ByteSize) + w.Classifier.Weight.ByteSize;
        if (!ReferenceEquals(w.Classifier.Weight, w.Embedding)) bytes += w.Embedding.ByteSize / w.Embedding.Rows;
        return bytes;
    }

    public static Result PromptProcessing(Transformer model, int tokens, int repetitions, int batch = InferenceState.DefaultBatchCapacity, int depth = 0)
    {
        using var test = new PromptTest(model, tokens, batch, depth);
        return Measure($"pp{tokens}{AtDepth(depth)}", tokens, repetitions, test.Run);
    }

    // llama-bench's name for a test at a depth: "pp512 @ d1024".
    private static string AtDepth(int depth) => depth > 0 ? $" @ d{depth}" : "";

    // A state for depth + tokens positions whose first depth positions are filled (random tokens).
    private static InferenceState StateAtDepth(Transformer model, int depth, int tokens, int batch)
    {
        if (depth < 0 || depth + tokens > model.Config.MaxSeqLen)
            throw new SlingException($"a depth of {depth} and {tokens} tokens exceed the model's context of {model.Config.MaxSeqLen}");
        var state = model.CreateState(depth + tokens, batch);
        if (depth > 0) model.Prefill(state, RandomTokens(depth, model.Config.VocabSize), 0);
        return state;
    }

    /// <summary>
    /// One prompt-processing run at a time (its seconds), for timing runs one by one, e.g. alternating
    /// with another engine's so both see the same minutes of a shared machine.
    /// </summary>
    public sealed class PromptTest(Transformer model, int tokens, int batch = InferenceState.DefaultBatchCapacity, int depth = 0) : IDisposable
    {
        private readonly int[] _prompt = RandomTokens(tokens, model.Config.VocabSize);
        // Reused, as llama-bench reuses its context: each run writes the same positions after the depth.
        private readonly InferenceState _state = StateAtDepth(model, depth, tokens, batch);

        public double Run()
        {
            var clock = Stopwatch.StartNew();
            model.Prefill(_state, _prompt, depth);
            return clock.Elapsed.TotalSeconds;
        }

        public void Dispose() => _state.Dispose();
    }

    /// <summary>One generation run at a time (its seconds): N tokens one by one after the depth's (an empty cache without one).</summary>
    public sealed class GenerationTest(Transformer model, int tokens, int depth = 0)
    {
        private readonly int[] _ids = RandomTokens(tokens, model.Config.VocabSize);

        internal InferenceState State { get; } = StateAtDepth(model, depth, tokens, depth > 0 ? InferenceState.DefaultBatchCapacity : 1);

        public double Run() => Run(null);

        /// <summary>A run whose clock stops while <paramref name="pause"/> runs after every <paramref name="every"/> tokens.</summary>
        internal double Run(Action? pause, int every = 16)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < _ids.Length; i++)
            {
                model.Forward(State, _ids[i], depth + i);
                if (pause == null || (i + 1) % every != 0) continue;
                clock.Stop();
                pause();
                clock.Start();
            }
            return clock.Elapsed.TotalSeconds;
        }
    }

    public static Result Generation(Transformer model, int tokens, int repetitions, int depth = 0)
    {
        var test = new GenerationTest(model, tokens, depth);
        // The bandwidth the runs had: a pass over 128 MB every 16 tokens, off the clock, as this
        // machine's changes within seconds.
        var bandwidth = new List<double>();
        Result result;
        using (var sampler = new MemoryBandwidth.Sampler(model.Pool))
        {
            bool timed = false;
            result = Measure($"tg{tokens}{AtDepth(depth)}", tokens, repetitions, () =>
            {
                double seconds = test.Run(timed ? () => bandwidth.Add(sampler.Pass()) : null);
                timed = true; // the warm-up run is not sampled
                return seconds;
            }, () => bandwidth.Add(sampler.Pass()));
        }
        // The prompt test's state (its cache sized for the prompt) is garbage by now: collected and its
        // memory returned to the system, so only what generation holds is counted.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        result = result with { ResidentBytes = Environment.WorkingSet, CacheBytes = test.State.CacheBytes, Bandwidth = bandwidth };
        GC.KeepAlive(test);
        return result;
    }

    /// <summary>
    /// <paramref name="sequences"/> sequences generating <paramref name="tokens"/> tokens each in lockstep,
    /// one multi-sequence forward pass per step (continuous batching): aggregate tokens/s.
    /// </summary>
    public static Result BatchedGeneration(Transformer model, int sequences, int tokens, int repetitions)
    {
        var ids = RandomTokens(tokens * sequences, model.Config.VocabSize);
        var states = Enumerable.Range(0, sequences).Select(_ => model.CreateState(tokens, batchCapacity: 1)).ToArray();
        var batch = model.CreateBatch(sequences);
        var items = new BatchItem[sequences];
        return Measure($"tg{tokens}x{sequences}", tokens * sequences, repetitions, () =>
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < tokens; i++)
            {
                for (int s = 0; s < sequences; s++) items[s] = new BatchItem(states[s], ids[s * tokens + i], i);
                model.Forward(batch, items);
            }
            return clock.Elapsed.TotalSeconds;
        });
    }

    // between, if given, runs before each timed run and after the last (outside the timings).
    private static Result Measure(string test, int tokens, int repetitions, Func<double> once, Action? between = null)
    {
        if (tokens <= 0 || repetitions <= 0) throw new SlingException($"{test}: token count and repetitions must be positive");
        once(); // warm-up: JIT, page faults, caches
        var speeds = new List<double>();
        for (int r = 0; r < repetitions; r++)
        {
            between?.Invoke();
            speeds.Add(tokens / once());
        }
        between?.Invoke();
        var (mean, sd) = Spread(speeds);
        return new Result(test, tokens, mean, sd, speeds);
    }

    /// <summary>Mean and sample standard deviation (0 for a single value) of repeated measures.</summary>
    internal static (double Mean, double Sd) Spread(IReadOnlyCollection<double> values)
    {
        double mean = values.Average();
        double sd = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        return (mean, sd);
    }

    private static int[] RandomTokens(int count, int vocab)
    {
        var rng = new Random(42);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }
}
