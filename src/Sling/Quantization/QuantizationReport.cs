namespace Sling.Quantization;

/// <summary>What happened to one tensor.</summary>
/// <summary>What happened to one tensor; <see cref="MatrixBytes"/> is what a 2-D weight matrix occupies (codes, scales, zero points), 0 for other tensors.</summary>
public sealed record TensorDecision(string Name, long Parameters, string Precision, string? Note, long MatrixBytes = 0);

/// <summary>The outcome of quantizing a model: per-tensor precision, parameter counts and sizes.</summary>
public sealed record QuantizationReport(IReadOnlyList<TensorDecision> Tensors, long BytesBefore, long BytesAfter)
{
    public long ParametersIn(Func<string, bool> precision) => Tensors.Where(t => precision(t.Precision)).Sum(t => t.Parameters);
    public long Int4Parameters => ParametersIn(p => p.StartsWith("int4"));
    public long Int8Parameters => ParametersIn(p => p.StartsWith("int8"));
    public long FloatParameters => ParametersIn(p => !p.StartsWith("int"));
    public long TotalParameters => Tensors.Sum(t => t.Parameters);
    /// <summary>
    /// Bits per weight as <c>sling info</c> reports it: the bytes of the weight matrices (codes, scales,
    /// zero points) × 8 over their parameters. Norms and biases are not weights in this sense.
    /// </summary>
    public double BitsPerWeight => Tensors.Sum(t => t.MatrixBytes) * 8.0 / Math.Max(1, Tensors.Where(t => t.MatrixBytes > 0).Sum(t => t.Parameters));
}
