namespace Sling.Server;

/// <summary>How `sling serve` listens and how much work it takes on.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to listen on; the default keeps the server on this machine.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Port; 0 picks a free one (see <see cref="SlingServer.BaseAddress"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>When set, /v1 requests need <c>Authorization: Bearer KEY</c>.</summary>
    public string? ApiKey { get; init; }
    /// <summary>Sequences generated at once, batched through the model together.</summary>
    public int Parallel { get; init; } = 4;
    /// <summary>Positions (prompt + answer) each sequence may hold; the KV cache holds Parallel × Context.</summary>
    public int Context { get; init; } = 4096;
    /// <summary>Memory for keys and values, in bytes, shared by all sequences in blocks of 32 positions;
    /// null = enough for every sequence to hold a full context (Parallel × Context).</summary>
    public long? KvBudgetBytes { get; init; }
    /// <summary>Requests waiting for a free sequence; past this the server answers 429.</summary>
    public int QueueLimit { get; init; } = 64;
    /// <summary>Largest request body in bytes (413 beyond).</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;
    /// <summary>Most messages a chat request may carry.</summary>
    public int MaxMessages { get; init; } = 256;
    /// <summary>Most tokens a request may ask for (and the default when it does not say).</summary>
    public int MaxTokensLimit { get; init; } = 4096;
    /// <summary>Tokens one batched forward pass takes (generating sequences first, then prompt chunks).</summary>
    public int BatchTokens { get; init; } = 128;
    /// <summary>Name reported in /v1/models and responses (default: the model's file or folder name).</summary>
    public string? ModelName { get; init; }

    internal void Validate()
    {
        if (Port is < 0 or > 65535) throw new SlingException($"port {Port} is outside 0..65535");
        if (Parallel < 1) throw new SlingException($"parallel must be 1 or more (got {Parallel})");
        if (Context < 16) throw new SlingException($"context must be 16 or more (got {Context})");
        if (QueueLimit < 0) throw new SlingException($"queue limit must be 0 or more (got {QueueLimit})");
        if (BatchTokens < Parallel) throw new SlingException($"batch tokens ({BatchTokens}) must be at least parallel ({Parallel})");
        if (KvBudgetBytes is <= 0) throw new SlingException($"the KV budget must be positive (got {KvBudgetBytes} bytes)");
        if (MaxTokensLimit < 1) throw new SlingException($"max tokens limit must be 1 or more (got {MaxTokensLimit})");
    }
}
