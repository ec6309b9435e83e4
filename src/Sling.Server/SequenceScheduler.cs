using System.Collections.Concurrent;
using Sling.Generation;
using Sling.Models;

namespace Sling.Server;

/// <summary>
/// Continuous batching: up to <see cref="ServerOptions.Parallel"/> sequences advance together, one
/// forward pass per step over one token of every generating sequence plus chunks of the prompts
/// being read (the weights are read once for all of them). A request waiting in the queue joins at
/// the next step a sequence slot is free and the shared, paged KV memory has blocks for its prompt
/// and answer; a finished or cancelled one leaves at once and returns its blocks. Runs on its own thread.
/// </summary>
internal sealed class SequenceScheduler : IDisposable
{
    sealed class Sequence(GenerationRequest request, GeneratingSequence answer, InferenceState state)
    {
        public GenerationRequest Request { get; } = request;
        public GeneratingSequence Answer { get; } = answer;
        public InferenceState State { get; } = state;
        /// <summary>Positions already in the cache.</summary>
        public int Fed { get; set; }
        /// <summary>The tokens at those positions (what a later request may reuse).</summary>
        public List<int> FedTokens { get; } = [];
        /// <summary>The sampled token to run next (generating), or null while the prompt is read.</summary>
        public int? Pending { get; set; }
        public bool WantsLogits { get; set; }
    }

    readonly Transformer _model;
    readonly SlingModel _sling;
    readonly ServerOptions _options;
    readonly ServerMetrics _metrics;
    readonly InferenceState?[] _states;
    readonly KvBlockPool _pool;
    GenerationRequest? _head; // dequeued, waiting for cache blocks (keeps the queue's order)
    GenerationRequest? _waiting; // the last request counted as waiting for blocks (counted once however often it retries)
    // What an idle slot's cache still holds from its last sequence (prompt-prefix reuse), and when it was used.
    readonly List<int>?[] _cached;
    readonly long[] _lastUsed;
    long _clock;
    readonly Sequence?[] _slots;
    readonly ConcurrentQueue<GenerationRequest> _queue = new();
    readonly SemaphoreSlim _wake = new(0);
    readonly DecodeBatch _batch;
    readonly BatchItem[] _items;
    readonly Thread _thread;
    int _queued;
    volatile bool _stopping;

    public SequenceScheduler(SlingModel model, ServerOptions options, ServerMetrics metrics)
    {
        _sling = model;
        _model = model.Loaded.Transformer;
        _options = options;
        _metrics = metrics;
        _states = new InferenceState?[options.Parallel];
        const int BlockPositions = 32;
        int context = Math.Min(options.Context, _model.Config.MaxSeqLen);
        long blockBytes = _model.CreateBlockPool(BlockPositions, 1).BlockBytes;
        long budget = options.KvBudgetBytes ?? (long)options.Parallel * ((context + BlockPositions - 1) / BlockPositions) * blockBytes;
        int blocks = (int)Math.Clamp(budget / blockBytes, 1, int.MaxValue);
        _pool = _model.CreateBlockPool(BlockPositions, blocks);
        // A sequence can be no longer than the whole budget.
        Context = Math.Min(context, blocks * BlockPositions);
        _slots = new Sequence?[options.Parallel];
        _cached = new List<int>?[options.Parallel];
        _lastUsed = new long[options.Parallel];
        _batch = _model.CreateBatch(options.BatchTokens);
        _items = new BatchItem[options.BatchTokens];
        _thread = new Thread(Loop) { IsBackground = true, Name = "sling-scheduler" };
        _thread.Start();
    }

    /// <summary>Positions each sequence may hold (the server's context, at most the model's and the budget's).</summary>
    public int Context { get; }

    /// <summary>Bytes of the shared KV memory.</summary>
    public long CacheBytesWhenFull => _pool.BlockCount * _pool.BlockBytes;

    public int CacheBlocks => _pool.BlockCount;

    public int CacheBlocksInUse => _pool.BlockCount - _pool.FreeBlocks - CacheBlocksKept;

    /// <summary>Blocks idle slots keep for a conversation that may continue.</summary>
    public int CacheBlocksKept => Enumerable.Range(0, _slots.Length)
        .Where(i => _slots[i] is null && _cached[i] is not null && _states[i] is not null)
        .Sum(i => _states[i]!.Cache.Capacity / _pool.BlockPositions);

    public int Queued => Volatile.Read(ref _queued) + (_head is null ? 0 : 1);

    public int Active => _slots.Count(s => s is not null);

    /// <summary>Queues a request; false when the queue is full (or the server is stopping).</summary>
    public bool TryEnqueue(GenerationRequest request)
    {
        if (_stopping) return false;
        if (Interlocked.Increment(ref _queued) > _options.QueueLimit + FreeSlots())
        {
            Interlocked.Decrement(ref _queued);
            return false;
        }
        _queue.Enqueue(request);
        _wake.Release();
        return true;
    }

    int FreeSlots() => _slots.Count(s => s is null);

    /// <summary>Stops taking requests, ends the running ones (their answers so far are kept) and the thread.</summary>
    public void Stop()
    {
        _stopping = true;
        _wake.Release();
        _thread.Join();
    }

    public void Dispose()
    {
        if (!_stopping) Stop();
        _wake.Dispose();
    }

    void Loop()
    {
        while (true)
        {
            Admit();
            if (_stopping)
            {
                foreach (var s in _slots) s?.Answer.Cancel();
                FinishEnded();
                if (_head is { } head)
                {
                    _head = null;
                    EndUnstarted(head);
                }
                while (_queue.TryDequeue(out var waiting))
                {
                    Interlocked.Decrement(ref _queued);
                    EndUnstarted(waiting);
                }
                return;
            }
            if (_slots.All(s => s is null))
            {
                _wake.Wait(1000);
                continue;
            }
            foreach (var s in _slots)
                if (s is not null && s.Request.Cancellation.IsCancellationRequested) s.Answer.Cancel();
            FinishEnded();
            try
            {
                Step();
            }
            catch (Exception e)
            {
                // The engine failed (a bug): the requests in flight fail, the server goes on.
                for (int i = 0; i < _slots.Length; i++)
                {
                    if (_slots[i] is not { } s) continue;
                    s.Request.Text.Writer.TryComplete(e);
                    s.Request.Done.TrySetException(e);
                    s.State.Cache.Release();
                    _cached[i] = null;
                    _slots[i] = null;
                }
            }
            FinishEnded();
        }
    }

    // A request still waiting when the server stops gets an empty answer, as a running one keeps what it
    // has: a stream that already sent its first chunk ends with its finish chunk and [DONE].
    static void EndUnstarted(GenerationRequest request)
    {
        request.Text.Writer.TryComplete();
        request.Done.TrySetResult(new RequestOutcome("", request.Prompt.Count, 0, StopReason.Cancelled, null));
    }

    void Admit()
    {
        while (!_stopping && _slots.Any(s => s is null))
        {
            var request = _head;
            if (request is null)
            {
                if (!_queue.TryDequeue(out request)) return;
                Interlocked.Decrement(ref _queued);
            }
            _head = null;
            if (request.Cancellation.IsCancellationRequested)
            {
                request.Text.Writer.TryComplete();
                request.Done.TrySetCanceled();
                continue;
            }
            // The free slot whose cache shares the longest prefix with the prompt (a conversation that
            // continues), else the one used longest ago.
            int best = -1, reuse = -1;
            for (int i = 0; i < _slots.Length; i++)
            {
                if (_slots[i] is not null) continue;
                int common = _cached[i] is { } cached ? CommonPrefix(cached, request.Prompt) : 0;
                if (common > reuse || (common == reuse && _lastUsed[i] < _lastUsed[best]))
                {
                    best = i;
                    reuse = common;
                }
            }
            var state = _states[best] ??= _model.CreateState(Context, 1, _pool);
            // Blocks for the prompt and the longest answer: a running sequence never runs out of cache.
            // Other idle slots' kept caches give their blocks back first, oldest first.
            int needed = Math.Min(Context, request.Prompt.Count + request.Options.MaxTokens);
            while (!state.Cache.Reserve(needed) && Evict(best)) { }
            if (state.Cache.Capacity < needed)
            {
                if (!ReferenceEquals(request, _waiting)) _metrics.WaitedForCache();
                _head = _waiting = request; // waits (first in line) until finished sequences return blocks
                return;
            }
            reuse = Math.Min(reuse, request.Prompt.Count - 1); // the last prompt token runs again for its logits
            _cached[best] = null;
            _metrics.Reused(reuse);
            state.Length = reuse;
            var answer = new GeneratingSequence(_sling.Tokenizer, request.StopTokens, request.Options, request.Prompt, Context,
                piece => request.Text.Writer.TryWrite(piece));
            var sequence = new Sequence(request, answer, state) { Fed = reuse };
            sequence.FedTokens.AddRange(request.Prompt.Take(reuse));
            _slots[best] = sequence;
        }
    }

    static int CommonPrefix(List<int> a, IReadOnlyList<int> b)
    {
        int n = Math.Min(a.Count, b.Count), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    /// <summary>Frees the kept cache of the idle slot used longest ago (not <paramref name="keep"/>); false when none is left.</summary>
    bool Evict(int keep)
    {
        int victim = -1;
        for (int i = 0; i < _slots.Length; i++)
            if (i != keep && _slots[i] is null && _cached[i] is not null && (victim < 0 || _lastUsed[i] < _lastUsed[victim])) victim = i;
        if (victim < 0) return false;
        _states[victim]!.Cache.Release();
        _cached[victim] = null;
        return true;
    }

    /// <summary>One forward pass: a token of each generating sequence, then prompt chunks while room is left.</summary>
    void Step()
    {
        int n = 0;
        foreach (var s in _slots)
        {
            if (s is null) continue;
            s.WantsLogits = false;
            if (s.Pending is int token)
            {
                _items[n++] = new BatchItem(s.State, token, s.Fed, WantLogits: true);
                s.Fed++;
                s.FedTokens.Add(token);
                s.WantsLogits = true;
            }
        }
        int promptTokens = 0;
        foreach (var s in _slots)
        {
            if (s is null || s.Pending is not null) continue;
            var prompt = s.Request.Prompt;
            while (n < _items.Length && s.Fed < prompt.Count)
            {
                bool last = s.Fed == prompt.Count - 1;
                _items[n++] = new BatchItem(s.State, prompt[s.Fed], s.Fed, WantLogits: last);
                s.FedTokens.Add(prompt[s.Fed]);
                s.Fed++;
                promptTokens++;
                s.WantsLogits = last;
            }
        }
        if (n == 0) return;
        _model.Forward(_batch, _items.AsSpan(0, n));
        Array.Clear(_items, 0, n);
        int generated = 0;
        foreach (var s in _slots)
        {
            if (s is null || !s.WantsLogits) continue;
            s.Pending = s.Answer.Accept(s.State.Logits);
            if (s.Answer.Generated.Count > 0 && s.Request.TimeToFirstToken is null)
            {
                s.Request.TimeToFirstToken = s.Request.Clock.Elapsed;
                _metrics.FirstToken(s.Request.TimeToFirstToken.Value);
            }
            if (s.Pending is not null || s.Answer.Reason is StopReason.MaxTokens or StopReason.StopString or StopReason.ContextFull) generated++;
        }
        _metrics.Step(promptTokens, generated);
    }

    /// <summary>Sequences whose answer ended leave their slot; their request completes.</summary>
    void FinishEnded()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slots[i] is not { } s || s.Answer.Reason is null) continue;
            // The slot keeps its keys and values: a request that continues this conversation reuses them.
            // Left first, so whoever sees the answer complete (a client reading /metrics right after)
            // sees the slot idle and its blocks kept, not still in use.
            _cached[i] = s.FedTokens;
            _lastUsed[i] = ++_clock;
            _slots[i] = null;
            s.Answer.Complete();
            s.Request.Text.Writer.TryComplete();
            s.Request.Done.TrySetResult(new RequestOutcome(s.Answer.Text, s.Request.Prompt.Count, s.Answer.Generated.Count,
                s.Answer.Reason!.Value, s.Request.TimeToFirstToken));
            _metrics.Finished();
        }
    }
}
