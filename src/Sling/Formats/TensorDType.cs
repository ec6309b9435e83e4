namespace Sling.Formats;

/// <summary>Element types a tensor file may hold (safetensors names).</summary>
public enum TensorDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool }

public static class TensorDTypes
{
    public static int Size(this TensorDType t) => t switch
    {
        TensorDType.F64 or TensorDType.I64 => 8,
        TensorDType.F32 or TensorDType.I32 => 4,
        TensorDType.F16 or TensorDType.BF16 or TensorDType.I16 => 2,
        _ => 1,
    };

    public static bool TryParse(string name, out TensorDType type)
    {
        switch (name)
        {
            case "F64": type = TensorDType.F64; return true;
            case "F32": type = TensorDType.F32; return true;
            case "F16": type = TensorDType.F16; return true;
            case "BF16": type = TensorDType.BF16; return true;
            case "I64": type = TensorDType.I64; return true;
            case "I32": type = TensorDType.I32; return true;
            case "I16": type = TensorDType.I16; return true;
            case "I8": type = TensorDType.I8; return true;
            case "U8": type = TensorDType.U8; return true;
            case "BOOL": type = TensorDType.Bool; return true;
            default: type = default; return false;
        }
    }

    public static string Name(this TensorDType t) => t == TensorDType.Bool ? "BOOL" : t.ToString();
}
