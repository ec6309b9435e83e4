namespace Sling.Quantization;

/// <summary>What happened to one tensor.</summary>
public sealed record TensorDecision(string Name, long Parameters, string Precision, string? Note);

/// <summary>The outcome of quantizing a model: per-tensor precision, parameter counts and sizes.</summary>
public sealed record QuantizationReport(IReadOnlyList<TensorDecision> Tensors, long BytesBefore, long BytesAfter)
{
    public long ParametersIn(Func<string, bool> precision) => Tensors.Where(t => precision(t.Precision)).Sum(t => t.Parameters);
    public long Int4Parameters => ParametersIn(p => p.StartsWith("int4"));
    public long Int8Parameters => ParametersIn(p => p.StartsWith("int8"));
    public long FloatParameters => ParametersIn(p => !p.StartsWith("int"));
    public long TotalParameters => Tensors.Sum(t => t.Parameters);
    public double BitsPerWeight => BytesAfter * 8.0 / Math.Max(1, TotalParameters);
}
