using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Sling.Server;

/// <summary>Counters for /metrics (Prometheus text format).</summary>
internal sealed class ServerMetrics
{
    readonly object _gate = new();
    readonly Queue<(long Ticks, int Tokens)> _recent = new();
    readonly Stopwatch _clock = Stopwatch.StartNew();
    long _requests, _rejected, _errors, _finished, _promptTokens, _generatedTokens, _firstTokenCount, _reused, _waitedForCache;
    double _firstTokenSeconds;

    public void Request() => Interlocked.Increment(ref _requests);
    public void Rejected() => Interlocked.Increment(ref _rejected);
    public void Error() => Interlocked.Increment(ref _errors);
    public void Finished() => Interlocked.Increment(ref _finished);
    public void Reused(int tokens) => Interlocked.Add(ref _reused, tokens);
    public void WaitedForCache() => Interlocked.Increment(ref _waitedForCache);

    public void FirstToken(TimeSpan delay)
    {
        lock (_gate)
        {
            _firstTokenCount++;
            _firstTokenSeconds += delay.TotalSeconds;
        }
    }

    public void Step(int promptTokens, int generatedTokens)
    {
        Interlocked.Add(ref _promptTokens, promptTokens);
        Interlocked.Add(ref _generatedTokens, generatedTokens);
        lock (_gate)
        {
            _recent.Enqueue((_clock.ElapsedTicks, generatedTokens));
            Trim();
        }
    }

    void Trim()
    {
        long horizon = _clock.ElapsedTicks - 10 * Stopwatch.Frequency;
        while (_recent.Count > 0 && _recent.Peek().Ticks < horizon) _recent.Dequeue();
    }

    /// <summary>Generated tokens per second over the last 10 seconds.</summary>
    public double TokensPerSecond()
    {
        lock (_gate)
        {
            Trim();
            if (_recent.Count == 0) return 0;
            double seconds = Math.Min(10, _clock.Elapsed.TotalSeconds);
            return _recent.Sum(r => r.Tokens) / Math.Max(seconds, 1e-3);
        }
    }

    public string Render(int queued, int active, int parallel, int blocksInUse, int blocksKept, int blocks)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        void Metric(string name, string type, string help, double value)
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            sb.Append(name).Append(' ').Append(value.ToString("R", c)).Append('\n');
        }
        Metric("sling_requests_total", "counter", "Generation requests received.", Interlocked.Read(ref _requests));
        Metric("sling_requests_rejected_total", "counter", "Requests refused because the queue was full (429).", Interlocked.Read(ref _rejected));
        Metric("sling_requests_failed_total", "counter", "Requests that failed inside the engine.", Interlocked.Read(ref _errors));
        Metric("sling_requests_finished_total", "counter", "Requests whose answer ended (or was cancelled).", Interlocked.Read(ref _finished));
        Metric("sling_prompt_tokens_total", "counter", "Prompt tokens run through the model.", Interlocked.Read(ref _promptTokens));
        Metric("sling_prompt_tokens_reused_total", "counter", "Prompt tokens whose keys and values a slot still held (a continuing conversation).", Interlocked.Read(ref _reused));
        Metric("sling_requests_waited_for_cache_total", "counter", "Requests that had a free slot but waited for KV cache blocks other sequences held.", Interlocked.Read(ref _waitedForCache));
        Metric("sling_generated_tokens_total", "counter", "Tokens generated.", Interlocked.Read(ref _generatedTokens));
        Metric("sling_queue_length", "gauge", "Requests waiting for a sequence slot.", queued);
        Metric("sling_active_sequences", "gauge", "Sequences being generated.", active);
        Metric("sling_parallel_sequences", "gauge", "Sequence slots.", parallel);
        Metric("sling_kv_cache_blocks_used", "gauge", "KV cache blocks (32 positions each) held by sequences.", blocksInUse);
        Metric("sling_kv_cache_blocks_kept", "gauge", "KV cache blocks idle slots keep for conversations that may continue.", blocksKept);
        Metric("sling_kv_cache_blocks", "gauge", "KV cache blocks in the budget.", blocks);
        Metric("sling_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s.", TokensPerSecond());
        double mean;
        lock (_gate) mean = _firstTokenCount == 0 ? 0 : _firstTokenSeconds / _firstTokenCount;
        Metric("sling_time_to_first_token_seconds_mean", "gauge", "Mean time from request to first token.", mean);
        return sb.ToString();
    }
}
