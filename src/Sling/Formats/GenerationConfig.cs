namespace Sling.Formats;

/// <summary>The generation defaults a model folder suggests (generation_config.json); all optional.</summary>
public sealed record GenerationConfig(
    int[] EosTokenIds,
    int? BosTokenId,
    bool? DoSample,
    float? Temperature,
    float? TopP,
    int? TopK,
    float? RepetitionPenalty)
{
    public static GenerationConfig Empty { get; } = new([], null, null, null, null, null, null);

    public static GenerationConfig Read(string path)
    {
        if (!File.Exists(path)) return Empty;
        var c = HuggingFaceConfig.Read(path);
        return new GenerationConfig(
            c.Ints("eos_token_id"),
            c.Has("bos_token_id") ? c.Int("bos_token_id") : null,
            c.Has("do_sample") ? c.Bool("do_sample", false) : null,
            c.Has("temperature") ? (float)c.Double("temperature") : null,
            c.Has("top_p") ? (float)c.Double("top_p") : null,
            c.Has("top_k") ? c.Int("top_k") : null,
            c.Has("repetition_penalty") ? (float)c.Double("repetition_penalty") : null);
    }
}
