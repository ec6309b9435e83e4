using System.Runtime.InteropServices;
using Sling.Formats;

namespace Sling.Models;

/// <summary>
/// Rewrites a Hugging Face folder's weights in another float dtype (e.g. an F32 checkpoint as
/// BF16: half the memory and faster). Tensor by tensor, so memory holds one tensor at a time.
/// Matrices are converted; vectors (norms, biases) are kept as they are.
/// </summary>
public static class WeightConversion
{
    public static TensorDType Target(WeightDType dtype) => dtype switch
    {
        WeightDType.F32 => TensorDType.F32,
        WeightDType.F16 => TensorDType.F16,
        WeightDType.BF16 => TensorDType.BF16,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "no conversion target"),
    };

    /// <summary>A dtype named as people write it (auto, f32/float32, f16/float16, bf16/bfloat16).</summary>
    public static WeightDType ParseName(string name) => name.ToLowerInvariant() switch
    {
        "auto" => WeightDType.Auto,
        "f32" or "float32" or "fp32" => WeightDType.F32,
        "f16" or "float16" or "fp16" => WeightDType.F16,
        "bf16" or "bfloat16" => WeightDType.BF16,
        _ => throw new SlingException($"dtype '{name}' is not supported (auto, f32, f16, bf16)"),
    };

    internal static bool NeedsConversion(TensorSet tensors, TensorDType target)
        => tensors.Tensors.Any(t => t.Shape.Length == 2 && t.DType != target);

    internal static void Convert(string sourceFolder, TensorSet tensors, TensorDType target, string destinationFolder)
    {
        // Written, not copied: a copy would keep a read-only source's permissions.
        File.WriteAllBytes(Path.Combine(destinationFolder, HuggingFaceLoader.ConfigFileName),
            File.ReadAllBytes(Path.Combine(sourceFolder, HuggingFaceLoader.ConfigFileName)));
        using var writer = new SafeTensorsWriter(Path.Combine(destinationFolder, TensorSet.SingleFileName));
        writer.AddMetadata("sling_converted_from", Path.GetFullPath(sourceFolder));
        foreach (var t in tensors.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var file = tensors.FileOf(t.Name);
            if (t.Shape.Length != 2 || t.DType == target)
            {
                writer.Add(t.Name, t.DType, t.Shape, file.RawBytes(t));
                continue;
            }
            float[] values = file.ReadFloats(t.Name);
            switch (target)
            {
                case TensorDType.F32:
                    writer.Add<float>(t.Name, target, t.Shape, values);
                    break;
                case TensorDType.F16:
                    var half = new Half[values.Length];
                    for (int i = 0; i < values.Length; i++) half[i] = (Half)Math.Clamp(values[i], -65504f, 65504f);
                    writer.Add<Half>(t.Name, target, t.Shape, half);
                    break;
                case TensorDType.BF16:
                    var bf16 = new ushort[values.Length];
                    for (int i = 0; i < values.Length; i++) bf16[i] = ToBFloat16(values[i]);
                    writer.Add<ushort>(t.Name, target, t.Shape, bf16);
                    break;
                default:
                    throw new SlingException($"cannot convert weights to {target.Name()}");
            }
        }
        writer.Complete();
    }

    /// <summary>fp32 → bfloat16 with round-to-nearest-even (NaN stays NaN).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
