using Sling.Formats;
using Sling.Kernels;

namespace Sling.Quantization;

/// <summary>
/// How a quantized matrix "NAME" is stored in safetensors: "NAME" holds the codes (U8; for 4 bits
/// packed as <see cref="Int4GroupMatrix"/> documents), "NAME.scale" the fp16 scales [rows, groups],
/// "NAME.zero_point" the zero points (U8; 4-bit ones packed two per byte) unless symmetric, and the
/// file metadata "sling.quant.NAME" the format, e.g. "int4_asym:128".
/// </summary>
public static class QuantizedTensors
{
    public const string ScaleSuffix = ".scale";
    public const string ZeroSuffix = ".zero_point";

    /// <summary>Quantizes a float matrix row by row and adds its tensors to <paramref name="writer"/>.</summary>
    /// <param name="choose">Picks row r's per-group (fp32 scale, zero) from the row and its min/max parameters (data-aware scale estimation, GPTQ); null = min/max (or the data-free search).</param>
    internal static void Write(SafeTensorsWriter writer, string name, Func<int, float[]> readRow, int rows, int cols, QuantizedFormat format, bool scaleSearch = false,
        Func<int, float[], (float Scale, int Zero)[], (float Scale, int Zero)[]>? choose = null)
    {
        int groups = cols / format.GroupSize;
        int codeBytes = format.Bits == 4 ? Int4GroupMatrix.CodeBytesPerRow(cols) : cols;
        int zeroBytes = format.Bits == 4 ? Int4GroupMatrix.ZeroBytesPerRow(groups) : groups;
        var packedCodes = new byte[(long)rows * codeBytes];
        var scales = new Half[(long)rows * groups];
        var packedZeros = new byte[(long)rows * zeroBytes];
        // Rows are independent: quantize them on all cores, each worker with its own scratch.
        Parallel.For(0, rows, () => (Codes: new byte[cols], Zeros: new byte[groups]), (r, _, scratch) =>
        {
            var (codes, zeros) = scratch;
            var row = readRow(r);
            if (choose is null) GroupQuantizer.QuantizeRow(row, format, codes, scales.AsSpan(r * groups, groups), zeros, scaleSearch);
            else GroupQuantizer.QuantizeRow(row, format, choose(r, row, GroupQuantizer.RowParameters(row, format)), codes, scales.AsSpan(r * groups, groups), zeros);
            if (format.Bits == 4)
            {
                PackInt4(codes, packedCodes.AsSpan(r * codeBytes, codeBytes));
                for (int g = 0; g < groups; g++)
                    packedZeros[r * zeroBytes + g / 2] |= (byte)(g % 2 == 0 ? zeros[g] : zeros[g] << 4);
            }
            else
            {
                codes.CopyTo(packedCodes.AsSpan(r * codeBytes, codeBytes));
                zeros.CopyTo(packedZeros.AsSpan(r * zeroBytes, zeroBytes));
            }
            return scratch;
        }, _ => { });
        writer.Add(name, TensorDType.U8, [rows, codeBytes], packedCodes);
        writer.Add<Half>(name + ScaleSuffix, TensorDType.F16, [rows, groups], scales);
        if (!format.Symmetric) writer.Add(name + ZeroSuffix, TensorDType.U8, [rows, zeroBytes], packedZeros);
        writer.AddMetadata(QuantizedFormat.MetadataPrefix + name, format.ToString());
    }

    /// <summary>Blocks of 32 codes: byte j = code j (low nibble) | code j+16 (high nibble).</summary>
    public static void PackInt4(ReadOnlySpan<byte> codes, Span<byte> packed)
    {
        for (int block = 0; block < codes.Length; block += Int4GroupMatrix.BlockSize)
            for (int j = 0; j < 16; j++)
                packed[block / 2 + j] = (byte)(codes[block + j] | codes[block + j + 16] << 4);
    }

    /// <summary>Quantizes a row-major [rows, cols] matrix into memory (pinned), row by row in parallel.</summary>
    internal static unsafe GroupMatrix Quantize(Func<int, float[]> readRow, int rows, int cols, QuantizedFormat format)
    {
        if (format.GroupSize <= 0 || cols % format.GroupSize != 0 || (format.Bits == 4 && format.GroupSize % Int4GroupMatrix.BlockSize != 0))
            throw new ArgumentException($"{format} cannot hold rows of {cols}");
        int groups = cols / format.GroupSize;
        int codeBytes = format.Bits == 4 ? Int4GroupMatrix.CodeBytesPerRow(cols) : cols;
        int zeroBytes = format.Bits == 4 ? Int4GroupMatrix.ZeroBytesPerRow(groups) : groups;
        var packed = GC.AllocateArray<byte>(rows * codeBytes, pinned: true);
        var scales = GC.AllocateArray<Half>(rows * groups, pinned: true);
        var packedZeros = GC.AllocateArray<byte>(format.Symmetric ? 1 : rows * zeroBytes, pinned: true);
        Parallel.For(0, rows, () => (new byte[cols], new byte[groups]), (r, _, buffers) =>
        {
            var (codes, zeros) = buffers;
            GroupQuantizer.QuantizeRow(readRow(r), format, codes, scales.AsSpan(r * groups, groups), zeros);
            if (format.Bits == 4) PackInt4(codes, packed.AsSpan(r * codeBytes, codeBytes));
            else codes.CopyTo(packed, (long)r * codeBytes);
            if (!format.Symmetric)
            {
                var z = packedZeros.AsSpan(r * zeroBytes, zeroBytes);
                if (format.Bits == 8) zeros.CopyTo(z);
                else for (int g = 0; g < groups; g++) z[g / 2] |= (byte)(g % 2 == 0 ? zeros[g] : zeros[g] << 4);
            }
            return buffers;
        }, _ => { });
        var owner = new object[] { packed, scales, packedZeros };
        byte* codesPtr = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref packed[0]);
        Half* scalesPtr = (Half*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref scales[0]);
        byte* zerosPtr = format.Symmetric ? null : (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref packedZeros[0]);
        return format.Bits == 4
            ? new Int4GroupMatrix(codesPtr, scalesPtr, zerosPtr, rows, cols, format.GroupSize, owner)
            : new Int8GroupMatrix(codesPtr, scalesPtr, zerosPtr, rows, cols, format.GroupSize, owner);
    }

    /// <summary>The format recorded for <paramref name="name"/>, or null for an unquantized tensor.</summary>
    public static QuantizedFormat? FormatOf(SafeTensorsFile file, string name)
        => file.Metadata.TryGetValue(QuantizedFormat.MetadataPrefix + name, out var text) ? QuantizedFormat.Parse(text, file.Path) : null;

    /// <summary>Opens a stored quantized matrix in place, checking every tensor's shape against [rows, cols].</summary>
    internal static unsafe WeightMatrix Open(SafeTensorsFile file, string name, QuantizedFormat format, int rows, int cols)
    {
        ModelFormatException Bad(string problem) => new(file.Path, $"quantized tensor '{name}' ({format}): {problem}");
        if (format.GroupSize <= 0 || cols % format.GroupSize != 0)
            throw Bad($"group size {format.GroupSize} does not divide the {cols} inputs");
        if (format.Bits == 4 && format.GroupSize % Int4GroupMatrix.BlockSize != 0)
            throw Bad($"4-bit group size must be a multiple of {Int4GroupMatrix.BlockSize}");
        int groups = cols / format.GroupSize;
        int codeBytes = format.Bits == 4 ? Int4GroupMatrix.CodeBytesPerRow(cols) : cols;
        int zeroBytes = format.Bits == 4 ? Int4GroupMatrix.ZeroBytesPerRow(groups) : groups;
        byte* Tensor(string tensorName, TensorDType dtype, int expectRows, int expectCols)
        {
            if (!file.Tensors.TryGetValue(tensorName, out var t)) throw Bad($"tensor '{tensorName}' is missing");
            if (t.DType != dtype || t.Shape.Length != 2 || t.Shape[0] != expectRows || t.Shape[1] != expectCols)
                throw Bad($"'{tensorName}' is {t.DType.Name()} [{string.Join(", ", t.Shape)}], expected {dtype.Name()} [{expectRows}, {expectCols}]");
            return (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(file.RawBytes(t)));
        }
        byte* codes = Tensor(name, TensorDType.U8, rows, codeBytes);
        Half* scales = (Half*)Tensor(name + ScaleSuffix, TensorDType.F16, rows, groups);
        byte* zeros = format.Symmetric ? null : Tensor(name + ZeroSuffix, TensorDType.U8, rows, zeroBytes);
        return format.Bits == 4
            ? new Int4GroupMatrix(codes, scales, zeros, rows, cols, format.GroupSize, file)
            : new Int8GroupMatrix(codes, scales, zeros, rows, cols, format.GroupSize, file);
    }
}
