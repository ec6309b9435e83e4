namespace Sling.Quantization;

/// <summary>
/// The storage format of one quantized matrix: bit width, symmetry, inputs per group. Recorded per
/// tensor in the safetensors metadata as e.g. "int4_asym:128".
/// </summary>
public sealed record QuantizedFormat(int Bits, bool Symmetric, int GroupSize)
{
    public const string MetadataPrefix = "sling.quant.";
    public int MaxCode => (1 << Bits) - 1;
    /// <summary>The code that stands for zero in symmetric formats (codes are stored offset by it).</summary>
    public int SymmetricZero => 1 << (Bits - 1);

    public override string ToString() => $"int{Bits}_{(Symmetric ? "sym" : "asym")}:{GroupSize}";

    public static QuantizedFormat Parse(string text, string where)
    {
        var parts = text.Split(':');
        if (parts.Length == 2 && int.TryParse(parts[1], out int group) && group > 0)
        {
            switch (parts[0])
            {
                case "int4_asym": return new QuantizedFormat(4, false, group);
                case "int4_sym": return new QuantizedFormat(4, true, group);
                case "int8_asym": return new QuantizedFormat(8, false, group);
                case "int8_sym": return new QuantizedFormat(8, true, group);
            }
        }
        throw new Formats.ModelFormatException(where, $"unknown quantization format '{text}'");
    }
}
