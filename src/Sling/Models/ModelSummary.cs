namespace Sling.Models;

/// <summary>Sizes and storage formats of a loaded model's weights, for `sling info` and benchmarks.</summary>
public sealed record ModelSummary(long Parameters, long WeightBytes, IReadOnlyList<string> Formats)
{
    public static ModelSummary Of(Transformer model)
    {
        var w = model.Weights;
        var matrices = w.Layers.SelectMany(l => l.Linears().Select(x => x.Linear.Weight)).Append(w.Embedding).ToList();
        if (!ReferenceEquals(w.Classifier.Weight, w.Embedding)) matrices.Add(w.Classifier.Weight);
        return new ModelSummary(model.ParameterCount(), matrices.Sum(m => m.ByteSize), matrices.Select(m => m.Format).Distinct().ToList());
    }

    public double BitsPerWeight(Transformer model)
    {
        var w = model.Weights;
        long count = w.Layers.SelectMany(l => l.Linears()).Sum(x => (long)x.Linear.Outputs * x.Linear.Inputs)
                     + (long)w.Embedding.Rows * w.Embedding.Cols
                     + (ReferenceEquals(w.Classifier.Weight, w.Embedding) ? 0 : (long)w.Classifier.Outputs * w.Classifier.Inputs);
        return WeightBytes * 8.0 / count;
    }
}
