using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// What the int4 and int8 group formats share: w = (code − zero) · scale with one fp16 scale and one
/// zero point per group of inputs, and the integer product on <see cref="Q8Activations"/>:
/// Σ_b scale_b · d_b · Σ code·q − Σ_g scale_g · zero_g · Σ_{b∈g} d_b·Σq_b. Each format supplies the
/// inner Σ code·q loop for every <see cref="KernelIsa"/>; this class walks rows and activation tiles.
/// </summary>
internal abstract unsafe class GroupMatrix : WeightMatrix
{
    /// <summary>Activation rows one kernel call multiplies with a weight row (registers hold one accumulator each).</summary>
    private protected const int Tile = 4;
    private protected readonly Half* _scales;

    private protected GroupMatrix(Half* scales, int rows, int cols, int groupSize) : base(rows, cols)
    {
        _scales = scales;
        GroupSize = groupSize;
    }

    public int GroupSize { get; }
    public int Groups => Cols / GroupSize;
    /// <summary>The code path used; defaults to the widest this CPU runs (these kernels have no AVX-VNNI form: it runs AVX2).</summary>
    public KernelIsa Isa { get => _isa; set => _isa = KernelIsas.WithoutVnni(value); }
    private KernelIsa _isa = KernelIsas.WithoutVnni(KernelIsas.Best);

    public abstract int Zero(int row, int group);
    /// <summary>The stored code of one weight (0..15 for int4, 0..255 for int8).</summary>
    public abstract int Code(int row, int col);

    public override void ReadRow(int row, Span<float> destination)
    {
        for (int g = 0; g < Groups; g++)
        {
            float scale = Scale(row, g);
            int zero = Zero(row, g);
            for (int c = g * GroupSize; c < (g + 1) * GroupSize; c++) destination[c] = (Code(row, c) - zero) * scale;
        }
    }

    // Exact float activations are for checking what the stored values compute, not for speed.
    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd) => MultiplyDecodedRows(x, y, rowStart, rowEnd);

    internal override void MultiplyRows(ReadOnlySpan<float> x, int count, Span<float> y, int ldy, int rowStart, int rowEnd)
        => MultiplyDecodedRows(x, count, y, ldy, rowStart, rowEnd);

    /// <summary>The stored codes of a row (layout is the format's own).</summary>
    internal abstract byte* RowCodes(int row);
    /// <summary>The stored scales of a row, one per group.</summary>
    internal Half* RowScales(int row) => _scales + (long)row * Groups;

    /// <summary>
    /// Called once the values live elsewhere (a repacked copy): when they are read in place from a
    /// memory-mapped file, its resident pages are dropped.
    /// </summary>
    internal abstract void ReleaseSource();
    public float Scale(int row, int group) => (float)_scales[(long)row * Groups + group];

    // Codes are integers; only the scales can be NaN or infinite.
    public override long FirstNonFiniteRow()
    {
        long at = NonFinite.FindHalf(new ReadOnlySpan<ushort>(_scales, checked(Rows * Groups)));
        return at < 0 ? -1 : at / Groups;
    }

    // Groups must be whole activation blocks (or a whole row) for the block sums to line up.
    internal override bool TakesQ8 => GroupSize % Q8Activations.BlockSize == 0 || GroupSize == Cols;

    // What the product's threads read, made once before they start: zero·Σq per block for the fused
    // AVX2 kernels (one zero point for all codes), else the group sums of the general walk.
    internal override void PrepareQ8(Q8Activations input)
    {
        if (!Fused(input)) input.GroupSums(GroupSize);
        else if (SharedZeroPoint >= 0) input.ZeroSums(SharedZeroPoint);
    }

    // The fused AVX2 kernels for fewer activation rows than a tile (generation): with many rows the
    // general walk's per-row preparation is shared by all their tiles, and its 4-row kernel, which
    // takes the zero points out once per output, ran prompts faster (TinyLlama Q4_0 pp512 70 against 51 tok/s).
    private bool Fused(Q8Activations input) => Isa == KernelIsa.Avx2 && HasFusedAvx2 && input.Count < Tile;

    /// <summary>
    /// Σ_b bs[b] · d_b · Σ code·q for one weight row and activation rows a.Codes(0 .. tile−1), into dots[0 .. tile−1].
    /// </summary>
    private protected abstract void DotTile(int row, float* blockScales, Q8Rows a, int tile, float* dots, KernelIsa isa);

    /// <summary>
    /// The format's AVX2 kernel for whole rows (<see cref="FusedRows"/>): true when it has one for this shape.
    /// </summary>
    private protected virtual bool HasFusedAvx2 => false;

    /// <summary>
    /// One weight row times activation rows a.Codes(0 .. tile−1) (fewer than a tile) into dots[0 .. tile−1], given the row's
    /// group scales as floats: per block, Σ code·q − zero·Σq in integers, then one multiply-add by
    /// scale · d. <paramref name="zeros"/> is null when every code shares the zero point, and
    /// <paramref name="zeroSums"/> then holds zero·Σq per block, else 128·Σq (of activation row 0; each
    /// row one row of blocks further).
    /// </summary>
    private protected virtual void FusedAvx2(int row, float* scales, int* zeros, Q8Rows a, int* zeroSums, int tile, float* dots) { }

    /// <summary>The row's zero points, one per group (asymmetric formats only).</summary>
    private protected abstract void ZeroPoints(int row, int* zeros);

    /// <summary>The zero point every code shares, or −1 when each group has its own.</summary>
    private protected abstract int SharedZeroPoint { get; }

    /// <summary>
    /// Rows through the format's fused AVX2 kernel: per row, its fp16 scales widened (and zero points
    /// read) once, then each tile of activation rows in one pass over the row's codes. The general walk
    /// (below) prepares a scale per block, scale·zero per group and a float dot of those with the group
    /// sums per output, per row: on AVX2 that bookkeeping took more time than the products (generation
    /// on TinyLlama Q4_0 ran at 13 tok/s, 13 % of the memory's bandwidth).
    /// </summary>
    private void FusedRows(Q8Activations input, Span<float> y, int ldy, int rowStart, int rowEnd)
    {
        int groups = Groups, n = input.Count, blocks = input.Blocks, shared = SharedZeroPoint;
        if ((long)(n - 1) * ldy + rowEnd > y.Length) throw new ArgumentException($"{y.Length} outputs cannot hold {n} rows of {ldy}");
        float* scales = stackalloc float[groups];
        int* groupZeros = stackalloc int[shared >= 0 ? 0 : groups];
        int* zeros = shared >= 0 ? null : groupZeros;
        float* dots = stackalloc float[Tile];
        int* zeroSums = shared >= 0 ? input.ZeroSums(shared) : input.OffsetSums.Pointer;
        fixed (float* lanes = input.Lanes, blockD = input.Scales)
        fixed (sbyte* codes = input.Codes)
        fixed (short* wide = input.Wide)
            for (int r = rowStart; r < rowEnd; r++)
            {
                HalfConversion.ToSingle(_scales + (long)r * groups, scales, groups);
                if (zeros != null) ZeroPoints(r, zeros);
                for (int t = 0, tile; t < n; t += tile)
                {
                    tile = Math.Min(Tile, n - t);
                    FusedAvx2(r, scales, zeros, new Q8Rows(codes, wide, lanes, blockD, input.Stride, blocks, t), zeroSums + (long)t * blocks, tile, dots);
                    for (int k = 0; k < tile; k++) y[(t + k) * ldy + r] = dots[k];
                }
            }
    }

    /// <summary>How a fused kernel takes a block's zero·Σq: precomputed (one zero point for all codes), or the group's zero point × Σq.</summary>
    private protected interface IZeroSum
    {
        static abstract int Of(int* sums, int* zeros, int g, int b);
    }

    private protected readonly struct SharedZeroSum : IZeroSum
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Of(int* sums, int* zeros, int g, int b) => sums[b];
    }

    private protected readonly struct GroupZeroSum : IZeroSum
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Of(int* sums, int* zeros, int g, int b) => (sums[b] >> 7) * zeros[g]; // sums hold 128·Σq
    }

    /// <summary>A fused kernel's product of one 32-input block of a weight row's codes with an activation row: 8 int32 lane sums of code·q.</summary>
    private protected interface IBlockProduct
    {
        /// <summary>Block <paramref name="b"/> of the row's codes <paramref name="w"/> times the activation row (its 8-bit codes <paramref name="q"/>, or widened to 16 bits <paramref name="wide"/>).</summary>
        static abstract Vector256<int> Of(byte* w, sbyte* q, short* wide, int b);
    }

    /// <summary>
    /// The fused AVX2 walk over one weight row (<paramref name="w"/>, its codes) for the tile's activation
    /// rows: per block, the format's 8 int32 sums of code·q (<typeparamref name="TProduct"/>); zero·Σq
    /// comes off lane 0 (the lanes are summed at the end, and all share the block's scale), then one
    /// multiply-add by scale·d. One activation row alternates two accumulators, so consecutive blocks
    /// do not wait on each other's add.
    /// </summary>
    private protected void FusedWalk<TZero, TProduct>(byte* w, float* scales, int* zeros, Q8Rows a, int* zeroSums, int tile, float* dots)
        where TZero : IZeroSum where TProduct : IBlockProduct
    {
        int blocks = Cols / Q8Activations.BlockSize, perGroup = GroupSize / Q8Activations.BlockSize, groups = Groups;
        for (int k = 0; k < tile; k++)
        {
            Vector256<float> even = default, odd = default;
            sbyte* q = a.Codes(k);
            short* wide = a.Wide(k);
            float* d = a.Lanes(k);
            int* sums = zeroSums + (long)k * blocks;
            for (int g = 0, b = 0; g < groups; g++)
            {
                var s = Vector256.Create(scales[g]);
                for (int end = b + perGroup; b < end; b++)
                {
                    var p = TProduct.Of(w, q, wide, b) - Vector256.CreateScalar(TZero.Of(sums, zeros, g, b));
                    (even, odd) = (odd, Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Load(d + b * 8) * s, even));
                }
            }
            dots[k] = Vector256.Sum(even + odd);
        }
    }

    internal override void MultiplyRows(Q8Activations input, Span<float> y, int ldy, int rowStart, int rowEnd)
    {
        if (Fused(input))
        {
            FusedRows(input, y, ldy, rowStart, rowEnd);
            return;
        }
        int blocks = input.Blocks, groups = Groups, n = input.Count, rows = rowEnd - rowStart;
        int perGroup = GroupSize == Cols ? blocks : GroupSize / Q8Activations.BlockSize;
        var groupSums = input.GroupSums(GroupSize);
        var scratch = Scratch.Get(rows * (blocks + groups));
        float* dots = stackalloc float[Tile];
        fixed (float* scratchPtr = scratch, sums = groupSums, lanes = input.Lanes, blockD = input.Scales)
        fixed (sbyte* codes = input.Codes)
        fixed (short* wide = input.Wide)
        {
            // Per row, once for all activation rows: each block's weight scale, and scale·zero per group.
            float* blockScales = scratchPtr, zeroScales = scratchPtr + rows * blocks;
            for (int i = 0; i < rows; i++)
            {
                int r = rowStart + i;
                float* bs = blockScales + i * blocks, zs = zeroScales + i * groups;
                HalfConversion.ToSingle(_scales + (long)r * groups, zs, groups);
                for (int g = 0, b = 0; g < groups; g++)
                {
                    for (int end = Math.Min(blocks, b + perGroup); b < end; b++) bs[b] = zs[g];
                    zs[g] *= Zero(r, g);
                }
            }
            // A tile of activation rows stays in L1 while the rows of this range stream past it.
            for (int t = 0; t < n; t += Tile)
            {
                int tile = Math.Min(Tile, n - t);
                var a = new Q8Rows(codes, wide, lanes, blockD, input.Stride, blocks, t);
                for (int i = 0; i < rows; i++)
                {
                    int r = rowStart + i;
                    DotTile(r, blockScales + i * blocks, a, tile, dots, Isa);
                    var zs = new ReadOnlySpan<float>(zeroScales + i * groups, groups);
                    for (int k = 0; k < tile; k++)
                        y[(t + k) * ldy + r] = dots[k] - TensorPrimitives.Dot(zs, new ReadOnlySpan<float>(sums + (t + k) * groups, groups));
                }
            }
        }
    }
}
