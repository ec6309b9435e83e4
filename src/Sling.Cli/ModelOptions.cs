using System.CommandLine;
using Sling.Models;

namespace Sling.Cli;

/// <summary>How `run` and `chat` open a model: path, tokenizer, threads, dtype, cache, KV-cache precision.</summary>
internal sealed class ModelOptions
{
    readonly Option<string> _model = CommonOptions.Model();
    readonly Option<string?> _tokenizer = CommonOptions.Tokenizer();
    readonly Option<int> _threads = CommonOptions.Threads();
    readonly Option<string> _dtype = new("--dtype") { Description = "Weight dtype: auto (as stored, in place) or f32/f16/bf16 (converted once, then cached)", DefaultValueFactory = _ => "auto" };
    readonly Option<string?> _cacheDir = new("--cache-dir") { Description = "Where converted weights are kept (default: $SLING_CACHE_DIR or ~/.cache/sling)" };
    readonly Option<string> _kvCache = new("--kv-cache") { Description = "Key/value cache precision: f32 (exact) or f16 (half the memory)", DefaultValueFactory = _ => "f32" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _model, _tokenizer, _threads, _dtype, _cacheDir, _kvCache })
            command.Options.Add(option);
    }

    public SlingModel Load(ParseResult parse, TextWriter log)
    {
        if (parse.GetValue(_threads) < 0) throw new SlingException("--threads must be 0 (all cores) or more");
        var precision = CachePrecision(parse.GetValue(_kvCache)!);
        string? cachePath = parse.GetValue(_cacheDir);
        var options = new LoadOptions
        {
            TokenizerPath = parse.GetValue(_tokenizer),
            Threads = parse.GetValue(_threads),
            DType = WeightConversion.ParseName(parse.GetValue(_dtype)!),
            Cache = cachePath == null ? null : new ModelCache(cachePath),
            Log = line => log.WriteLine(line),
            KvCache = precision,
        };
        return SlingModel.Load(parse.GetValue(_model)!, options);
    }

    internal static KvCachePrecision CachePrecision(string value) => value switch
    {
        "f32" => KvCachePrecision.F32,
        "f16" => KvCachePrecision.F16,
        _ => throw new SlingException($"--kv-cache {value}: expected f32 or f16"),
    };
}
