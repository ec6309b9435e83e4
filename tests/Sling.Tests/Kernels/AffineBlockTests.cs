using Sling.Formats;
using Sling.Kernels;
using Sling.Tests.Support;

namespace Sling.Tests.Kernels;

/// <summary>
/// llama.cpp's block types as 16-value affine blocks: every value exactly as ggml decodes it (bit for
/// bit), and the integer product on the vector and the scalar path against the float64 product.
/// Checked on the tensors llama-quantize wrote (../shared/models/gguf/quant).
/// </summary>
public class AffineBlockTests
{
    [SharedTheory("models/gguf/quant/model-q4_k_m.gguf")]
    [MemberData(nameof(SharedData.QuantizedGgufTypes), MemberType = typeof(SharedData))]
    public unsafe void EveryTensorHoldsGgmlsValuesAndMultipliesExactly(string file)
    {
        using var g = GgufFile.Open(SharedData.PathOf($"models/gguf/quant/model-{file}.gguf"));
        int checkedTensors = 0, repacked = 0;
        foreach (var t in g.Tensors.Where(t => t.Dimensions.Length == 2 && GgmlBlocks.Layout(t.Type) is not null))
        {
            int cols = (int)t.Dimensions[0], rows = (int)t.Dimensions[1];
            var (values, bytes) = GgmlBlocks.Layout(t.Type)!.Value;
            long rowBytes = (long)cols / values * bytes;
            byte* src = g.File.Pointer(t.Offset, rows * rowBytes, t.Name);
            int perRow = cols / AffineBlockMatrix.Block;
            var codes = new byte[rows * cols];
            var scales = new float[rows * perRow];
            var zeros = new byte[rows * perRow];
            var offsets = new float[rows * perRow];
            var expected = new float[cols];
            var actual = new float[cols];
            for (int r = 0; r < rows; r++)
                GgmlBlocks.ToAffine(t.Type, src + r * rowBytes, codes.AsSpan(r * cols, cols), scales.AsSpan(r * perRow, perRow), zeros.AsSpan(r * perRow, perRow), offsets.AsSpan(r * perRow, perRow));
            var m = new AffineBlockMatrix(codes, scales, zeros, offsets, rows, cols, GgufFile.TypeName(t.Type));
            for (int r = 0; r < rows; r++)
            {
                GgmlReference.DecodeRow(t.Type, src + r * rowBytes, expected);
                m.ReadRow(r, actual);
                Assert.Equal(expected, actual); // bit for bit
            }
            // With AVX2 or AVX-512 every block type takes an interleaved layout: Q4_K and Q4_1 (4-bit codes, one
            // scale and offset per 32 values) the int4 one, the others the int8 one with signed codes.
            // The K-quants also as the loader holds them: scales factored as in the file (d·sc, dmin·m).
            var forms = new List<AffineBlockMatrix> { m };
            var fileFactors = Sling.Models.GgufLoader.Factors(t.Type, src, rows, cols, rowBytes);
            if (fileFactors != null)
                forms.Add(new AffineBlockMatrix(codes, scales, zeros, offsets, rows, cols, GgufFile.TypeName(t.Type)) { Factors = fileFactors });
            var layouts = forms.Where(RowBlockMatrix.CanRepack).Select(f => (f.Factors, Matrix: (WeightMatrix)RowBlockMatrix.Repack(f))).ToList();
            // Q4_K as the loader reads it: from the file's blocks straight into the interleaved int4 layout.
            if (t.Type == GgmlBlocks.Q4_K && RowBlockMatrix.CanRepack(rows, cols))
                layouts.Add((fileFactors, new Int4RowBlockMatrix(new Q4KSource(src, rows, cols, fileFactors!, null))));
            // IQ4_NL and IQ4_XS as the loader reads them: level indices into the int4 layout, levels looked up.
            if (t.Type == GgmlBlocks.IQ4_NL && RowBlockMatrix.CanRepack(rows, cols))
                layouts.Add((null, new Int4RowBlockMatrix(new Q4_0Source(src, rows, cols, null, iq4: true))));
            if (t.Type == GgmlBlocks.IQ4_XS && RowBlockMatrix.CanRepack(rows, cols))
                layouts.Add((fileFactors, new Int4RowBlockMatrix(new Iq4XsSource(src, rows, cols, fileFactors!, null))));
            // Q2_K, Q3_K, Q5_K and Q6_K as the loader reads them: codes decoded from the file's blocks row by
            // row into the 6-bit layout.
            if (t.Type is GgmlBlocks.Q2_K or GgmlBlocks.Q3_K or GgmlBlocks.Q5_K or GgmlBlocks.Q6_K && RowBlockMatrix.CanRepack(rows, cols))
                layouts.Add((fileFactors, new Int6RowBlockMatrix(new KQuantInt8Source(t.Type, src, rows, cols, fileFactors!, null))));
            // Q2_K also in the form this machine does not take by default (int2k, four codes to a byte, or int4k).
            if (t.Type == GgmlBlocks.Q2_K && RowBlockMatrix.CanRepack(rows, cols))
                layouts.Add((fileFactors, new Int6RowBlockMatrix(new KQuantInt8Source(t.Type, src, rows, cols, fileFactors!, null), twoBitCodes: !Int6RowBlockMatrix.TwoBitCodes)));
            foreach (var (factors, interleaved) in layouts)
            {
                Assert.Equal(GgufFile.TypeName(t.Type), interleaved.Format, ignoreCase: true);
                if (t.Type == GgmlBlocks.IQ4_NL && interleaved is Int4RowBlockMatrix)
                    Assert.Equal(rows * cols * 9L / 16, interleaved.ByteSize); // 4-bit indices, an fp16 scale per 32
                // Factored: IQ4_XS 4.375 bits (4-bit indices, a byte per 32, a float per 256; 8.375 as int8 codes); Q4_K 4.75 (4-bit codes, 2 bytes per 32, 2 floats per 256); Q5_K
                // 8.75 in the int8 layout, 5.75 in the K-quant one (5-bit codes); Q2_K (2 bytes per 16, 2 floats per 256) 9.25,
                // 5.25 (2-bit codes in 4 bits) and 3.25 (int2k: four codes to a byte); Q3_K (a byte per 16, a float per 256) 8.625 and 4.625 (3-bit codes in 4 bits); Q6_K 8.625 and 6.625.
                // Factored K-quants take the K-quant layout however they arrive (from the file's blocks or repacked), at the bits their codes need.
                if (factors != null && t.Type is GgmlBlocks.Q2_K or GgmlBlocks.Q3_K or GgmlBlocks.Q5_K or GgmlBlocks.Q6_K)
                {
                    var kquant = Assert.IsType<Int6RowBlockMatrix>(interleaved);
                    Assert.Equal(t.Type switch { GgmlBlocks.Q6_K => 2, GgmlBlocks.Q5_K => 1, _ => 0 }, kquant.Planes);
                }
                bool six = interleaved is Int6RowBlockMatrix, crumbs = interleaved is Int6RowBlockMatrix { Crumbs: true };
                long expectedBytes = t.Type switch
                {
                    GgmlBlocks.Q4_K => rows * cols * 19L / 32,
                    GgmlBlocks.Q5_K => six ? rows * cols * 23L / 32 : rows * cols * 35L / 32,
                    GgmlBlocks.Q2_K => crumbs ? rows * cols * 13L / 32 : six ? rows * cols * 21L / 32 : rows * cols * 37L / 32,
                    GgmlBlocks.Q3_K => six ? rows * cols * 37L / 64 : rows * cols * 69L / 64,
                    GgmlBlocks.IQ4_XS => interleaved is Int4RowBlockMatrix ? rows * cols * 35L / 64 : rows * cols * 67L / 64,
                    _ => six ? rows * cols * 53L / 64 : rows * cols * 69L / 64,
                };
                if (factors != null) Assert.Equal(expectedBytes, interleaved.ByteSize);
                for (int r = 0; r < rows; r++)
                {
                    GgmlReference.DecodeRow(t.Type, src + r * rowBytes, expected);
                    interleaved.ReadRow(r, actual);
                    Assert.Equal(expected, actual);
                }
                IntegerKernelTests.Check(interleaved, cols, rows);
                // Every layout has AVX2 kernels too (the int8 one's signed codes with scales and offsets per 32
                // or per 16 values: Q5_0/Q5_1, K-quants the 6-bit layout does not hold): forced on here.
                if (KernelIsas.Available.Contains(KernelIsa.Avx2))
                {
                    var layout = (RowBlockMatrix)interleaved;
                    var (isa, runsVnni) = (layout.Isa, layout.Vnni);
                    (layout.Isa, layout.Vnni) = (KernelIsa.Avx2, false);
                    IntegerKernelTests.Check(layout, cols, rows);
                    IntegerKernelTests.SameBitsAloneAndInATile(layout, cols, rows, $"{t.Name} {GgufFile.TypeName(t.Type)} {layout.GetType().Name}");
                    // AVX-VNNI (its exact AVX2 form on a CPU without it): the same bits as AVX2.
                    AvxVnniTests.SameBitsAsAvx2(layout, cols, rows, $"{t.Name} {GgufFile.TypeName(t.Type)} {layout.GetType().Name}");
                    (layout.Isa, layout.Vnni) = (isa, runsVnni);
                }
                // With AVX-512 VNNI every layout runs on the assembled kernels, bit for bit as the .NET
                // path, but the int8 layout's 16-value groups (a K-quant the 6-bit layout does not hold).
                var packed = (RowBlockMatrix)interleaved;
                // The two-bit form runs the AVX2 kernels everywhere.
                bool vnni = !crumbs && (interleaved is not Int8RowBlockMatrix || t.Type is not (GgmlBlocks.Q2_K or GgmlBlocks.Q3_K or GgmlBlocks.Q6_K));
                Assert.True((vnni && Sling.Kernels.Emit.VnniKernel.Available) == packed.RunsVnni(cols), $"{t.Name} {interleaved.GetType().Name} {interleaved.Format} vnni expected {vnni}");
                if (packed.RunsVnni(cols) && rows % 32 == 0) VnniKernelTests.SamePathsBitForBit(packed, cols, rows);
                repacked++;
            }
            int take = Math.Min(rows, 40);
            var slice = (AffineBlockMatrix)m.SliceRows(0, take);
            IntegerKernelTests.Check(slice, cols, take);   // AVX2, one and four activation rows at once
            slice.ForceScalar = true;
            IntegerKernelTests.Check(slice, cols, take);
            checkedTensors++;
        }
        Assert.True(checkedTensors > 0);
        // Each factored type twice more (the factored form repacked, the loader's direct source), IQ4_NL and Q2_K (its other form) once more.
        int factored = 2 * g.Tensors.Count(t => t.Dimensions.Length == 2 && t.Type is GgmlBlocks.Q2_K or GgmlBlocks.Q3_K or GgmlBlocks.Q4_K or GgmlBlocks.Q5_K or GgmlBlocks.Q6_K or GgmlBlocks.IQ4_XS)
            + g.Tensors.Count(t => t.Dimensions.Length == 2 && t.Type is GgmlBlocks.IQ4_NL or GgmlBlocks.Q2_K);
        Assert.Equal(KernelIsas.Best >= KernelIsa.Avx2 ? checkedTensors + factored : 0, repacked);
    }
}

/// <summary>
/// Q5_0 as the GGUF loader reads it: a Q8_0-like int8 group matrix (codes q − 16 in a byte, the fp16
/// scale per 32; 8.5 bits per weight instead of the affine form's 10), every value bit for bit what
/// ggml decodes, as read and in the interleaved layout, and its products against float64.
/// </summary>
public class Q5_0LoaderTests
{
    [SharedFact("models/gguf/quant/model-q5_0.gguf")]
    public unsafe void TheLoaderHoldsQ5_0AsInt8GroupsWithGgmlsValues()
    {
        using var g = GgufFile.Open(SharedData.PathOf("models/gguf/quant/model-q5_0.gguf"));
        var tensors = g.Tensors.ToDictionary(t => t.Name);
        int checkedTensors = 0;
        foreach (var t in g.Tensors.Where(t => t.Dimensions.Length == 2 && t.Type == GgmlBlocks.Q5_0))
        {
            int cols = (int)t.Dimensions[0], rows = (int)t.Dimensions[1];
            long rowBytes = cols / 32 * 22L;
            byte* src = g.File.Pointer(t.Offset, rows * rowBytes, t.Name);
            var expected = new float[cols];
            var actual = new float[cols];
            foreach (bool repack in new[] { false, true })
            {
                var m = Sling.Models.GgufLoader.ReadMatrix(g, tensors, t.Name, rows, cols, repack);
                Assert.IsType(repack && RowBlockMatrix.CanRepack(rows, cols) ? typeof(Int8RowBlockMatrix) : typeof(Int8GroupMatrix), m);
                Assert.Equal(rows * (long)cols * 17 / 16, m.ByteSize); // a byte per code, an fp16 scale per 32
                for (int r = 0; r < rows; r++)
                {
                    GgmlReference.DecodeRow(t.Type, src + r * rowBytes, expected);
                    m.ReadRow(r, actual);
                    Assert.Equal(expected, actual); // bit for bit
                }
                IntegerKernelTests.Check(m, cols, rows);
            }
            checkedTensors++;
        }
        Assert.True(checkedTensors > 0);
    }
}
