namespace Sling.Quantization;

/// <summary>The calibration set of data-aware compression (NNCF's <c>dataset</c>, <c>subset_size</c>).</summary>
public sealed record CalibrationOptions
{
    /// <summary>A UTF-8 text file (documents separated by blank lines), a JSONL file with a "text" field
    /// per line, or <c>self:N</c>: N texts the full-precision model writes itself.</summary>
    public required string Dataset { get; init; }

    /// <summary>Token windows taken from the dataset.</summary>
    public int NumSamples { get; init; } = 128;

    /// <summary>Tokens per window.</summary>
    public int SampleLength { get; init; } = 128;

    /// <summary>Which windows are drawn (and which texts the model writes for <c>self:N</c>).</summary>
    public int Seed { get; init; }

    /// <summary>Input rows kept per layer for the algorithms that use activations (AWQ, scale estimation, GPTQ).</summary>
    public int SampleRows { get; init; } = 512;

    public void Validate()
    {
        if (NumSamples < 1) throw new SlingException($"the number of calibration samples must be 1 or more (got {NumSamples})");
        if (SampleLength < 2) throw new SlingException($"calibration samples need 2 or more tokens (got {SampleLength})");
        if (SampleRows < 1) throw new SlingException($"at least one activation row must be kept (got {SampleRows})");
    }
}
