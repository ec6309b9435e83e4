using System.Text.Json;
using Sling.Kernels;

namespace Sling.Formats;

/// <summary>
/// The weights of a checkpoint: one model.safetensors, or several shards listed by
/// model.safetensors.index.json. Every tensor is looked up by name and read in place.
/// </summary>
internal sealed class TensorSet : IDisposable
{
    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _byName;

    private TensorSet(List<SafeTensorsFile> files, Dictionary<string, SafeTensorsFile> byName)
    {
        _files = files;
        _byName = byName;
    }

    public IReadOnlyList<SafeTensorsFile> Files => _files;
    public IEnumerable<SafeTensorInfo> Tensors => _byName.Values.Distinct().SelectMany(f => f.Tensors.Values).Where(t => _byName.ContainsKey(t.Name));

    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    public static TensorSet Open(string folder)
    {
        string index = Path.Combine(folder, IndexFileName);
        string single = Path.Combine(folder, SingleFileName);
        if (File.Exists(index)) return OpenSharded(folder, index);
        if (File.Exists(single)) return FromFiles([single]);
        var others = Directory.GetFiles(folder, "*.safetensors");
        if (others.Length == 1) return FromFiles(others);
        throw new SlingException(others.Length == 0
            ? $"{folder}: no model.safetensors or {IndexFileName} (only safetensors weights are supported)"
            : $"{folder}: several .safetensors files but no {IndexFileName} to say how they fit together");
    }

    public static TensorSet FromFiles(IEnumerable<string> paths)
    {
        var files = new List<SafeTensorsFile>();
        var byName = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var path in paths)
            {
                var f = SafeTensorsFile.Open(path);
                files.Add(f);
                foreach (var name in f.Tensors.Keys)
                    if (!byName.TryAdd(name, f))
                        throw new ModelFormatException(path, $"tensor '{name}' is also in {byName[name].Path}");
            }
            return new TensorSet(files, byName);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    private static TensorSet OpenSharded(string folder, string indexPath)
    {
        Dictionary<string, string> map;
        try
        {
            using var doc = JsonFile.Read(indexPath);
            if (!doc.RootElement.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(indexPath, "missing field 'weight_map'");
            map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var e in wm.EnumerateObject())
            {
                if (e.Value.ValueKind != JsonValueKind.String)
                    throw new ModelFormatException(indexPath, $"weight_map entry '{e.Name}' is not a file name");
                string file = e.Value.GetString()!;
                if (file.Contains('/') || file.Contains('\\') || file == "..")
                    throw new ModelFormatException(indexPath, $"weight_map entry '{e.Name}' names '{file}' outside the folder");
                map[e.Name] = file;
            }
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(indexPath, $"is not valid JSON: {e.Message}");
        }
        foreach (var shard in map.Values.Distinct())
            if (!File.Exists(Path.Combine(folder, shard)))
                throw new ModelFormatException(indexPath, $"weight_map points at '{shard}', which is not in the folder");

        var set = FromFiles(map.Values.Distinct().Order(StringComparer.Ordinal).Select(s => Path.Combine(folder, s)));
        foreach (var (name, shard) in map)
        {
            if (!set._byName.TryGetValue(name, out var f) || Path.GetFileName(f.Path) != shard)
            {
                set.Dispose();
                throw new ModelFormatException(indexPath, $"weight_map puts tensor '{name}' in '{shard}', but that file does not hold it");
            }
        }
        return set;
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafeTensorsFile FileOf(string name)
        => _byName.TryGetValue(name, out var f) ? f : throw new SlingException($"tensor '{name}' is not in the checkpoint");

    public SafeTensorInfo Info(string name) => FileOf(name).Info(name);
    public WeightMatrix Matrix(string name) => FileOf(name).Matrix(name);
    public float[] Floats(string name) => FileOf(name).ReadFloats(name);

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
