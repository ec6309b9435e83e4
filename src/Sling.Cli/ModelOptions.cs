using System.CommandLine;
using Sling.Models;
using Sling.Quantization;

namespace Sling.Cli;

/// <summary>How `run` and `chat` open a model: path, tokenizer, threads, dtype, cache, KV-cache precision.</summary>
internal sealed class ModelOptions
{
    readonly Option<string> _model = CommonOptions.Model();
    readonly Option<string?> _tokenizer = CommonOptions.Tokenizer();
    readonly Option<int> _threads = CommonOptions.Threads();
    readonly Option<string> _dtype = new("--dtype") { Description = "Weight dtype: auto (as stored, in place) or f32/f16/bf16 (converted once, then cached)", DefaultValueFactory = _ => "auto" };
    readonly Option<string?> _cacheDir = CommonOptions.CacheDir();
    readonly Option<string> _kvCache = new("--kv-cache") { Description = "Key/value cache precision: f32 (exact), f16 (half the memory) or int8 (a little over a quarter)", DefaultValueFactory = _ => "f32" };
    readonly Option<string?> _weightFormat = new("--weight-format") { Description = "Compress or convert a Hugging Face folder's weights at load, once (then cached): int4 (asym, group 128, ratio 1.0, as optimum-intel), int8, fp16, bf16, fp32" };
    readonly Option<int?> _groupSize = new("--group-size") { Description = "With --weight-format int4/int8: inputs per scale; -1 = per output channel" };
    readonly Option<double?> _ratio = new("--ratio") { Description = "With --weight-format int4: share of linear-layer parameters in int4 (the rest int8); the seed's setting is 0.8" };
    readonly Option<bool> _noLayoutCache = CommonOptions.NoLayoutCache();
    readonly Option<bool> _sym = new("--sym") { Description = "With --weight-format int4/int8: symmetric quantization (no zero points)" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _model, _tokenizer, _threads, _dtype, _cacheDir, _kvCache, _weightFormat, _groupSize, _ratio, _sym, _noLayoutCache })
            command.Options.Add(option);
    }

    /// <summary>--weight-format (with its overrides) as a dtype or a compression.</summary>
    (WeightDType DType, WeightQuantizationConfig? Quantization) Format(ParseResult parse)
    {
        var dtype = WeightConversion.ParseName(parse.GetValue(_dtype)!);
        string? format = parse.GetValue(_weightFormat);
        bool overrides = parse.GetValue(_groupSize) is not null || parse.GetValue(_ratio) is not null || parse.GetValue(_sym);
        if (format is null)
        {
            if (overrides) throw new SlingException("--group-size, --ratio and --sym go with --weight-format int4 or int8");
            return (dtype, null);
        }
        if (dtype != WeightDType.Auto) throw new SlingException("give --weight-format or --dtype, not both");
        WeightQuantizationConfig? preset = format.ToLowerInvariant() switch
        {
            "int4" => WeightQuantizationConfig.Int4Default,
            "int8" => WeightQuantizationConfig.Int8Default,
            "fp32" or "fp16" or "bf16" or "f32" or "f16" => null,
            _ => throw new SlingException($"--weight-format {format}: expected int4, int8, fp16, bf16 or fp32"),
        };
        if (preset is null)
        {
            if (overrides) throw new SlingException("--group-size, --ratio and --sym go with --weight-format int4 or int8");
            return (WeightConversion.ParseName(format), null);
        }
        var config = preset with
        {
            GroupSize = parse.GetValue(_groupSize) ?? preset.GroupSize,
            Ratio = parse.GetValue(_ratio) ?? preset.Ratio,
            Symmetric = parse.GetValue(_sym) || preset.Symmetric,
        };
        config.Validate();
        return (WeightDType.Auto, config);
    }

    public SlingModel Load(ParseResult parse, TextWriter log)
    {
        if (parse.GetValue(_threads) < 0) throw new SlingException("--threads must be 0 (all cores) or more");
        var precision = CachePrecision(parse.GetValue(_kvCache)!);
        var format = Format(parse);
        string? cachePath = parse.GetValue(_cacheDir);
        var options = new LoadOptions
        {
            TokenizerPath = parse.GetValue(_tokenizer),
            Threads = parse.GetValue(_threads),
            DType = format.DType,
            Quantization = format.Quantization,
            Cache = cachePath == null ? null : new ModelCache(cachePath),
            Log = line => log.WriteLine(line),
            KvCache = precision,
            KeepKernelLayout = !parse.GetValue(_noLayoutCache),
        };
        string model = parse.GetValue(_model)!;
        return Consoles.WithDownloads(log, model, hub => SlingModel.Load(model, options with { Hub = hub }));
    }

    internal static KvCachePrecision CachePrecision(string value) => value switch
    {
        "f32" => KvCachePrecision.F32,
        "f16" => KvCachePrecision.F16,
        "int8" => KvCachePrecision.Int8,
        _ => throw new SlingException($"--kv-cache {value}: expected f32, f16 or int8"),
    };
}
