using System.Numerics.Tensors;

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
    /// <summary>The code path used; defaults to the widest this CPU runs.</summary>
    public KernelIsa Isa { get; set; } = KernelIsas.Best;

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

    internal override void PrepareQ8(Q8Activations input) => input.GroupSums(GroupSize);

    /// <summary>
    /// Σ_b bs[b] · d_b · Σ code·q for one weight row and activation rows a.Codes(0 .. tile−1), into dots[0 .. tile−1].
    /// </summary>
    private protected abstract void DotTile(int row, float* blockScales, Q8Rows a, int tile, float* dots, KernelIsa isa);

    internal override void MultiplyRows(Q8Activations input, Span<float> y, int ldy, int rowStart, int rowEnd)
    {
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
