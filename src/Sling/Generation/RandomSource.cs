namespace Sling.Generation;

/// <summary>
/// xorshift64* generator: tiny, fast, and its sequence for a seed is fixed forever (unlike
/// System.Random's, which may change between runtimes), so a seed reproduces a run.
/// </summary>
internal sealed class RandomSource(ulong seed)
{
    private ulong _state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;

    public uint NextUInt32()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return (uint)((_state * 0x2545F4914F6CDD1DUL) >> 32);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public float NextSingle() => (NextUInt32() >> 8) / 16777216f;
}
