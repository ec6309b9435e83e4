using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// Group-quantized weights repacked at load for the AVX-512 kernels: 16 rows interleaved so a
/// 512-bit register holds a few consecutive codes of each of 16 rows (rows in lanes, as the fast CPU
/// forks lay weights out). One broadcast of activation codes multiplies all 16 rows at once, a
/// block's integer sums land one row per lane, and scales, zero points and results are whole
/// vectors: no horizontal sums and no per-row bookkeeping. Per 16-row block and group it stores 16
/// fp16 scales and, when asymmetric, 16 zero points — or, for affine sources (value = scale·code −
/// offset, llama.cpp's Q4_K/Q4_1), 16 float scales then 16 float offsets; the code layout is the format's own.
/// </summary>
internal abstract unsafe class RowBlockMatrix : WeightMatrix
{
    public const int RowsPerBlock = 16;
    /// <summary>
    /// How far ahead of the codes being multiplied the kernels ask for cache lines: past the next
    /// 4 KiB page, where the hardware prefetcher stops (measured: 4 KiB beat 1, 2 and 8 KiB).
    /// </summary>
    private protected const int PrefetchDistance = 4096;

    /// <summary>
    /// Asks for the <paramref name="bytes"/> (at most 512; rounded up to 128) of the block <see cref="PrefetchDistance"/>
    /// ahead of <paramref name="c"/>, written out (as a loop it cost a compare and branch per line).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static void PrefetchAhead(byte* c, int bytes)
    {
        byte* p = c + PrefetchDistance;
        Sse.Prefetch0(p);
        Sse.Prefetch0(p + 64);
        if (bytes <= 128) return; // the two-bit K-quant layout's blocks
        Sse.Prefetch0(p + 128);
        Sse.Prefetch0(p + 192);
        if (bytes <= 256) return;
        Sse.Prefetch0(p + 256);
        Sse.Prefetch0(p + 320);
        if (bytes <= 384) return;
        Sse.Prefetch0(p + 384);
        Sse.Prefetch0(p + 448);
    }

    /// <summary>A stored vector's low and high nibbles as two code vectors (AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static void Nibbles256(byte* p, Vector256<byte> mask, out Vector256<byte> low, out Vector256<byte> high)
    {
        var v = Vector256.Load(p);
        low = v & mask;
        high = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;
    }

    private protected const int BlockSize = Q8Activations.BlockSize;
    private readonly NativeBuffer _codeBuffer;
    private protected readonly byte* _codes;
    private readonly NativeBuffer _scaleBuffer;
    /// <summary>fp16 scales, or null for an affine source.</summary>
    private protected readonly Half* _scales;
    /// <summary>An affine source's float scales and offsets (per row block and group: 16 of each), or null.</summary>
    private protected readonly float* _affine;
    private protected readonly byte[]? _zeros;
    /// <summary>A factored affine source's per-group bytes (16 scale bytes, 16 offset bytes per row
    /// block and group) and per-super-block floats (16 scales, 16 offsets), or null.</summary>
    private readonly NativeBuffer? _superBuffer;
    private protected readonly byte* _groupFactors;
    private protected readonly float* _superFactors;
    private readonly int _groupsPerSuper;
    private readonly int _factorParts;     // 2: scale and offset factors; 1: scales only (Q6_K)
    private readonly bool _signedFactors;  // group bytes are signed (Q6_K's scales)
    private readonly string? _format;

    private protected RowBlockMatrix(RepackSource source, string kind)
        : base(source.Rows, source.Cols)
    {
        Kind = kind;
        GroupSize = source.GroupSize;
        SignedCodes = source.SignedCodes;
        SymmetricZero = source.SymmetricZero;
        _format = source.Format;
        _codeBuffer = new NativeBuffer(CodeBytes(Kind, (long)Rows * Cols));
        _codes = _codeBuffer.Pointer;
        int groups = Groups;
        if (source.Affine && source.Factors is { } f)
        {
            if (f.GroupSize != GroupSize) throw new ArgumentException($"factors per {f.GroupSize} values for groups of {GroupSize}");
            int per = _groupsPerSuper = f.GroupsPerSuperBlock, supers = groups / per, parts = _factorParts = f.DMin is null ? 1 : 2;
            if (!System.Numerics.BitOperations.IsPow2(per)) throw new ArgumentException($"{per} groups per super-block is not a power of two");
            _signedFactors = f.SignedScale;
            _scaleBuffer = new NativeBuffer((long)Rows * groups * parts);
            byte* groupFactors = _groupFactors = _scaleBuffer.Pointer;
            _superBuffer = new NativeBuffer((long)Rows * supers * parts * sizeof(float));
            float* superFactors = _superFactors = (float*)_superBuffer.Pointer;
            int first = source.FactorRowStart, groupsPerRow = Cols / f.GroupSize;
            Parallel.For(0, Rows, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (row) =>
            {
                long fr = first + row;
                for (int g = 0; g < groups; g++)
                {
                    long at = GroupFactorIndex(row, g);
                    groupFactors[at] = f.Scale[fr * groupsPerRow + g];
                    if (parts == 2) groupFactors[at + RowsPerBlock] = f.Min![fr * groupsPerRow + g];
                }
                for (int k = 0; k < supers; k++)
                {
                    long at = SuperFactorIndex(row, k);
                    superFactors[at] = f.D[fr * supers + k];
                    if (parts == 2) superFactors[at + RowsPerBlock] = f.DMin![fr * supers + k];
                }
            });
            return;
        }
        if (source.Affine)
        {
            _scaleBuffer = new NativeBuffer((long)Rows * Groups * 2 * sizeof(float));
            float* affine = _affine = (float*)_scaleBuffer.Pointer;
            Parallel.For(0, Rows, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (row) =>
            {
                for (int g = 0; g < groups; g++)
                {
                    long at = AffineIndex(row, g);
                    affine[at] = source.AffineScale(row, g);
                    affine[at + RowsPerBlock] = source.AffineOffset(row, g);
                }
            });
            return;
        }
        _scaleBuffer = new NativeBuffer((long)Rows * Groups * sizeof(Half));
        _scales = (Half*)_scaleBuffer.Pointer;
        _zeros = source.Symmetric ? null : GC.AllocateUninitializedArray<byte>(Rows * Groups, pinned: true);
        Half* target = _scales;
        byte[]? zeros = _zeros;
        Parallel.For(0, Rows, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (row) =>
        {
            long at = GroupIndex(row, 0); // then every RowsPerBlock entries, one per group
            for (int g = 0; g < groups; g++, at += RowsPerBlock)
            {
                target[at] = source.Scale(row, g);
                if (zeros != null) zeros[at] = (byte)source.Zero(row, g);
            }
        });
    }

    /// <summary>The layout read back from a stored copy (<see cref="Stored"/>): the buffers as they were, nothing recomputed.</summary>
    private protected RowBlockMatrix(StoredLayout shape, NativeBuffer codes, NativeBuffer scales, NativeBuffer? super, byte[]? zeros, string kind)
        : base(shape.Rows, shape.Cols)
    {
        if (shape.Kind != kind) throw new ArgumentException($"a stored {shape.Kind} layout is not {kind}");
        Kind = kind;
        var lengths = shape.Lengths();
        if (codes.Length != lengths.Codes || scales.Length != lengths.Scales || (super?.Length ?? 0) != lengths.Super || (zeros?.LongLength ?? 0) != lengths.Zeros)
            throw new ArgumentException("the buffers do not have the stored layout's lengths");
        GroupSize = shape.GroupSize;
        SignedCodes = shape.SignedCodes;
        SymmetricZero = shape.SymmetricZero;
        _format = shape.Format;
        _codeBuffer = codes;
        _codes = codes.Pointer;
        _scaleBuffer = scales;
        switch (shape.Scales)
        {
            case StoredScales.Factored:
                _superBuffer = super;
                _groupFactors = scales.Pointer;
                _superFactors = (float*)super!.Pointer;
                _groupsPerSuper = shape.GroupsPerSuper;
                _factorParts = shape.FactorParts;
                _signedFactors = shape.SignedFactors;
                break;
            case StoredScales.Affine:
                _affine = (float*)scales.Pointer;
                break;
            default:
                _scales = (Half*)scales.Pointer;
                _zeros = zeros;
                break;
        }
    }

    /// <summary>"int4", "int8", or one of the K-quant layouts "int6", "int5", "int4k", "int2k": the code layout.</summary>
    private protected string Kind { get; }

    /// <summary>Bytes of <paramref name="values"/> codes in a layout.</summary>
    private static long CodeBytes(string kind, long values) => kind switch
    {
        "int2k" => values / 4,
        "int4" or "int4k" => values / 2,
        "int5" => values / 8 * 5,
        "int6" => values / 4 * 3,
        "int8" => values,
        _ => throw new ArgumentException($"unknown layout '{kind}'"),
    };

    /// <summary>How a stored copy's scale buffer is read.</summary>
    internal enum StoredScales { Half, HalfWithZeros, Affine, Factored }

    /// <summary>
    /// Everything of a repacked matrix but its buffers: what a stored copy (the model cache's kernel
    /// layout) needs to be read back, and the length each buffer must have.
    /// </summary>
    internal sealed record StoredLayout(string Kind, int Rows, int Cols, int GroupSize, bool SignedCodes, int SymmetricZero, string? Format,
        StoredScales Scales, int GroupsPerSuper, int FactorParts, bool SignedFactors, sbyte[]? Levels)
    {
        /// <summary>Bytes of the codes, the scales (or group factors), the super-block factors and the zero points.</summary>
        public (long Codes, long Scales, long Super, long Zeros) Lengths()
        {
            if (Rows <= 0 || Cols <= 0 || Rows % RowsPerBlock != 0 || Cols % BlockSize != 0 || GroupSize <= 0 || Cols % GroupSize != 0)
                throw new ArgumentException($"[{Rows}, {Cols}] with groups of {GroupSize} is not a repacked shape");
            long groups = (long)Rows * (Cols / GroupSize), codes = CodeBytes(Kind, (long)Rows * Cols);
            return Scales switch
            {
                StoredScales.Half => (codes, groups * 2, 0, 0),
                StoredScales.HalfWithZeros => (codes, groups * 2, 0, groups),
                StoredScales.Affine => (codes, groups * 2 * sizeof(float), 0, 0),
                StoredScales.Factored when GroupsPerSuper > 0 && System.Numerics.BitOperations.IsPow2(GroupsPerSuper) && (Cols / GroupSize) % GroupsPerSuper == 0 && FactorParts is 1 or 2
                    => (codes, groups * FactorParts, groups / GroupsPerSuper * FactorParts * sizeof(float), 0),
                _ => throw new ArgumentException($"scales '{Scales}' with {GroupsPerSuper} groups per super-block and {FactorParts} factor parts"),
            };
        }
    }

    /// <summary>This matrix's shape and buffers (codes, scales, super-block factors, zero points: the last two possibly empty), for a stored copy.</summary>
    internal (StoredLayout Shape, NativeBuffer Codes, NativeBuffer Scales, NativeBuffer? Super, byte[]? Zeros) Stored()
    {
        var scales = _superFactors != null ? StoredScales.Factored : _affine != null ? StoredScales.Affine : _zeros != null ? StoredScales.HalfWithZeros : StoredScales.Half;
        return (new StoredLayout(Kind, Rows, Cols, GroupSize, SignedCodes, SymmetricZero, _format, scales, _groupsPerSuper, _factorParts, _signedFactors, StoredLevels),
            _codeBuffer, _scaleBuffer, _superBuffer, _zeros);
    }

    /// <summary>A table-indexed format's levels (IQ4), else null.</summary>
    private protected virtual sbyte[]? StoredLevels => null;

    /// <summary>A matrix read back from its stored shape and buffers.</summary>
    internal static RowBlockMatrix FromStored(StoredLayout shape, NativeBuffer codes, NativeBuffer scales, NativeBuffer? super, byte[]? zeros) => shape.Kind switch
    {
        "int4" => new Int4RowBlockMatrix(shape, codes, scales, super, zeros),
        "int6" or "int5" or "int4k" or "int2k" => new Int6RowBlockMatrix(shape, codes, scales, super, zeros),
        "int8" => new Int8RowBlockMatrix(shape, codes, scales, super, zeros),
        _ => throw new ArgumentException($"unknown layout '{shape.Kind}'"),
    };

    private long GroupFactorIndex(int row, int group) => ((long)(row / RowsPerBlock) * Groups + group) * _factorParts * RowsPerBlock + row % RowsPerBlock;
    private long SuperFactorIndex(int row, int k) => ((long)(row / RowsPerBlock) * (Groups / _groupsPerSuper) + k) * _factorParts * RowsPerBlock + row % RowsPerBlock;

    /// <summary>A factored group's scale and offset for one row: super-block float × group byte.</summary>
    private (float Scale, float Offset) Factored(int row, int group)
    {
        long at = GroupFactorIndex(row, group), super = SuperFactorIndex(row, group / _groupsPerSuper);
        float scale = _superFactors[super] * (_signedFactors ? (sbyte)_groupFactors[at] : _groupFactors[at]);
        return (scale, _factorParts == 2 ? _superFactors[super + RowsPerBlock] * _groupFactors[at + RowsPerBlock] : 0f);
    }

    /// <summary>Where a row's group scale is in the affine array (its offset follows 16 floats later).</summary>
    private long AffineIndex(int row, int group) => ((long)(row / RowsPerBlock) * Groups + group) * 2 * RowsPerBlock + row % RowsPerBlock;

    /// <summary>The format name: an affine source's own (e.g. "q4_k"), else Sling's.</summary>
    private protected string? SourceFormat => _format;

    /// <summary>Runs <paramref name="copy"/> for every row block in parallel, then lets the source drop its pages.</summary>
    private protected static void ForEachRowBlock(RepackSource source, Action<int> copy)
    {
        Parallel.For(0, source.Rows / RowsPerBlock, copy);
        source.Release();
    }

    public int GroupSize { get; }

    public int Groups => Cols / GroupSize;
    public bool Symmetric => _zeros == null;
    public bool Affine => _affine != null || _superFactors != null;
    /// <summary>Code bytes hold signed values (affine sources: code minus zero point).</summary>
    private protected bool SignedCodes { get; }
    /// <summary>The zero point of every group when <see cref="Symmetric"/>.</summary>
    private protected int SymmetricZero { get; init; }
    /// <summary>Code bytes of one 16-row × 32-input block.</summary>
    private protected abstract int BlockBytes { get; }

    /// <summary>The stored format's size (an int4 zero point counts half a byte, as files pack it; in memory it takes one).</summary>
    public override long ByteSize => _codeBuffer.Length + _scaleBuffer.Length + (_superBuffer?.Length ?? 0) + (_zeros == null ? 0 : this is Int4RowBlockMatrix ? (long)Rows * Int4GroupMatrix.ZeroBytesPerRow(Groups) : _zeros.LongLength);

    /// <summary>True when this CPU runs the kernels (AVX-512 or AVX2) and the matrix's shape fits the layout.</summary>
    public static bool CanRepack(GroupMatrix m) => CanRepack(m.Rows, m.Cols) && m.GroupSize % BlockSize == 0;

    /// <summary>True when this CPU runs the kernels and the matrix's shape fits the layout: 4-bit codes
    /// with one scale and offset per 32 values (Q4_K, Q4_1) take the int4 layout, factored codes of six
    /// bits the 6-bit one, the others the int8 one.</summary>
    public static bool CanRepack(AffineBlockMatrix m) => CanRepack(m.Rows, m.Cols);

    /// <summary>The same values in the interleaved layout of their format (a copy; the source is not kept).</summary>
    public static RowBlockMatrix Repack(WeightMatrix m) => m switch
    {
        Int4GroupMatrix => new Int4RowBlockMatrix(RepackSource.Of((GroupMatrix)m)),
        Int8GroupMatrix => new Int8RowBlockMatrix(RepackSource.Of((GroupMatrix)m)),
        AffineBlockMatrix a when a.IsInt4PerBlockOf32 => new Int4RowBlockMatrix(a.AsRepackSource()),
        // Factored codes that fit six bits (Q2_K, Q3_K, Q5_K, Q6_K) take the 6-bit layout, as when read from the file.
        AffineBlockMatrix a => a.AsInt8RepackSource() is var source && Int6RowBlockMatrix.Holds(source)
            ? new Int6RowBlockMatrix(source) : new Int8RowBlockMatrix(source),
        _ => throw new ArgumentException($"{m.Format} has no interleaved layout"),
    };

    /// <summary>
    /// True when this CPU runs the layouts' kernels — AVX-512 (<see cref="RowBlock"/> and the assembled
    /// VNNI ones), or AVX2 (<see cref="RowBlock256"/>) — and a [rows, cols] matrix fits the layout.
    /// </summary>
    internal static bool CanRepack(int rows, int cols) => KernelIsas.Best >= KernelIsa.Avx2 && Fits(rows, cols);

    private static bool Fits(int rows, int cols) => rows % RowsPerBlock == 0 && cols % BlockSize == 0;

    private protected long GroupIndex(int row, int group) => ((long)(row / RowsPerBlock) * Groups + group) * RowsPerBlock + row % RowsPerBlock;

    private protected abstract int CodeAt(int row, int col);

    // Codes are integers; only the scales (16 rows per group block) can be NaN or infinite.
    public override long FirstNonFiniteRow()
    {
        if (_superFactors != null)
        {
            long bad = NonFinite.Find(new ReadOnlySpan<float>(_superFactors, checked(Rows * (Groups / _groupsPerSuper) * _factorParts)));
            if (bad < 0) return -1;
            long perBlock = (long)(Groups / _groupsPerSuper) * _factorParts * RowsPerBlock;
            return bad / perBlock * RowsPerBlock + bad % RowsPerBlock;
        }
        if (_affine != null)
        {
            long bad = NonFinite.Find(new ReadOnlySpan<float>(_affine, checked(Rows * Groups * 2)));
            if (bad < 0) return -1;
            long perBlock = (long)Groups * 2 * RowsPerBlock;
            return bad / perBlock * RowsPerBlock + bad % RowsPerBlock;
        }
        long at = NonFinite.FindHalf(new ReadOnlySpan<ushort>(_scales, checked(Rows * Groups)));
        return at < 0 ? -1 : at / (Groups * RowsPerBlock) * RowsPerBlock + at % RowsPerBlock;
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        if (_superFactors != null)
        {
            for (int c = 0; c < Cols; c++)
            {
                var (scale, offset) = Factored(row, c / GroupSize);
                destination[c] = CodeAt(row, c) * scale - offset;
            }
            return;
        }
        if (_affine != null)
        {
            for (int c = 0; c < Cols; c++)
            {
                long at = AffineIndex(row, c / GroupSize);
                destination[c] = CodeAt(row, c) * _affine[at] - _affine[at + RowsPerBlock];
            }
            return;
        }
        for (int c = 0; c < Cols; c++)
        {
            long g = GroupIndex(row, c / GroupSize);
            int zero = _zeros == null ? SymmetricZero : _zeros[g];
            destination[c] = (CodeAt(row, c) - zero) * (float)_scales[g];
        }
    }

    // Exact float activations are for checking what the stored values compute, not for speed.
    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd) => MultiplyDecodedRows(x, y, rowStart, rowEnd);

    internal override void MultiplyRows(ReadOnlySpan<float> x, int count, Span<float> y, int ldy, int rowStart, int rowEnd)
        => MultiplyDecodedRows(x, count, y, ldy, rowStart, rowEnd);

    public override WeightMatrix SliceRows(int start, int count)
        => throw new NotSupportedException("a repacked matrix is not sliced; split fused projections before repacking");

    internal override bool TakesQ8 => true;

    internal override void PrepareQ8(Q8Activations input)
    {
        if (ZeroSumsOf(input) == null && FoldsGroupSums) input.GroupSums(GroupSize);
        if (TakesHalfSumPairs) input.HalfSumPairs();
    }

    /// <summary>
    /// The integer sums this matrix takes out of its blocks' sums, made once per input: for a shared
    /// zero point, zero · Σq per block on the AVX-512 paths and where the 256-bit kernels' sums start
    /// instead (<see cref="ZeroInLaneStarts"/>); for 16-value groups with scales only, zero · Σq per half
    /// block on the AVX-512 paths (the AVX2 kernels take those as <see cref="TakesHalfSumPairs"/> says); else null.
    /// </summary>
    private int* ZeroSumsOf(Q8Activations input) =>
        SharedZero ? (Isa == KernelIsa.Avx512 ? input.ZeroSums(SymmetricZero) : SymmetricZero == 0 ? null // the 256-bit kernels start at zero (NoZero)
            : ZeroInLaneStarts ? input.ZeroLaneStarts(SymmetricZero) : input.ZeroStarts(SymmetricZero))
        : HalfZero && Isa == KernelIsa.Avx512 ? input.HalfZeroSums(SymmetricZero) : null;

    /// <summary>
    /// The 256-bit kernels start each block's sums where they end without the shared zero point
    /// (<see cref="ActivationRow.ZeroStart256"/>): at −zero · Σq (<see cref="Q8Activations.ZeroStarts"/>), or
    /// for 16-bit sums split as AVX2's <c>vpmaddubsw</c> adds them (<see cref="Q8Activations.ZeroLaneStarts"/>).
    /// </summary>
    private protected virtual bool ZeroInLaneStarts => false;

    /// <summary>16-value groups with scales only on the AVX2 kernels: the code offset leaves each block's sum as one <c>vpmaddwd</c> of its half sums (<see cref="Q8Activations.HalfSumPairs"/>).</summary>
    private bool TakesHalfSumPairs => HalfZero && Isa != KernelIsa.Avx512;

    /// <summary>
    /// The group fold reads Σ d·Σq per group (affine offsets, a zero point per group); a shared zero
    /// point or code offset leaves the integer sums instead, and table levels have none.
    /// </summary>
    private bool FoldsGroupSums => !SharedZero && !HalfZero && !HasLevels;

    /// <summary>
    /// 16-value groups with scales only (Q6_K, Q3_K: codes stored offset by a constant): each half
    /// block's integer sum loses offset · Σq before it becomes a float, as with <see cref="SharedZero"/>.
    /// </summary>
    private protected bool HalfZero => GroupSize == BlockSize / 2 && _superFactors != null && _factorParts == 1;

    /// <summary>
    /// One zero point for every code (Q4_0, Q8_0, symmetric int4/int8): each block's integer sum loses
    /// zero · Σq before it becomes a float, exact, and the group fold is scale · sum alone.
    /// </summary>
    private protected bool SharedZero => _zeros == null && _affine == null && _superFactors == null && !HasLevels;

    /// <summary>Codes that index a table of levels (IQ4): the levels are the values, no zero point.</summary>
    private protected virtual bool HasLevels => false;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal override void MultiplyRows(Q8Activations input, Span<float> y, int ldy, int rowStart, int rowEnd)
    {
        if (rowStart % RowsPerBlock != 0 || rowEnd % RowsPerBlock != 0)
            throw new ArgumentException($"row range [{rowStart}, {rowEnd}) does not follow {RowsPerBlock}-row blocks");
        int n = input.Count, groups = Groups, blocks = Cols / BlockSize;
        var groupSums = FoldsGroupSums ? input.GroupSums(GroupSize) : default;
        if ((long)(n - 1) * ldy + rowEnd > y.Length) throw new ArgumentException($"{y.Length} outputs cannot hold {n} rows of {ldy}");
        byte* codes = _codes;
        Half* scales = _scales;
        float* affine = _affine, superFactors = _superFactors;
        byte* groupFactors = _groupFactors;
        int per = _groupsPerSuper, supers = per == 0 ? 0 : groups / per, parts = _factorParts;
        bool signedFactors = _signedFactors;
        fixed (byte* zeros = _zeros)
        fixed (sbyte* q = input.Codes)
        fixed (short* wide = input.Wide)
        fixed (float* d = input.Scales, sums = groupSums, output = y)
        fixed (int* offsetSums = input.OffsetSums)
        {
            bool halfZero = HalfZero;
            int* zeroSums = ZeroSumsOf(input);
            int* halfPairs = TakesHalfSumPairs ? input.HalfSumPairs() : null;
            int zeroStride = halfZero ? groups : blocks; // zero·Σq per half block or per block
            // Tiles run on the assembled VNNI kernels where there are: full tiles of 4, then single rows
            // (generation's one row, a last partial tile); the range's weights are set once, the
            // activation rows per call.
            var (kernel, single) = Isa == KernelIsa.Avx512 ? AssembledKernels(input.Stride) : (null, null);
            Emit.VnniKernel.Arguments args = default;
            if (kernel != null || single != null)
            {
                long rb = rowStart / RowsPerBlock;
                args = new Emit.VnniKernel.Arguments
                {
                    Codes = codes + rb * blocks * BlockBytes,
                    Scales = superFactors != null ? groupFactors + rb * groups * parts * RowsPerBlock
                        : affine != null ? affine + rb * groups * 2 * RowsPerBlock
                        : scales + rb * groups * RowsPerBlock,
                    Zeros = superFactors != null ? superFactors + rb * supers * parts * RowsPerBlock
                        : zeros == null ? null : zeros + rb * groups * RowsPerBlock,
                    ResultStrideBytes = (long)ldy * sizeof(float),
                    RowBlocks = (rowEnd - rowStart) / RowsPerBlock, Zero = SymmetricZero,
                };
                VnniLevels(args.Levels);
            }
            // A tile of activation rows stays in L1 while row blocks stream past it. The .NET kernels take
            // the range in chunks of about ChunkBytes, which stay in L2 while every tile passes over them,
            // so a prompt reads each weight from memory once instead of once per tile (the assembled
            // kernels, and a single tile, take the whole range per call).
            int first = rowStart / RowsPerBlock, last = rowEnd / RowsPerBlock;
            // Row block 0's weights; a range starts At its first row block.
            var matrix = new Weights(codes, scales, zeros, groups, GroupSize / BlockSize, SymmetricZero, affine,
                superFactors == null ? null : groupFactors, superFactors,
                per == 0 ? 0 : System.Numerics.BitOperations.Log2((uint)per), parts, signedFactors, SharedZero || halfZero, (long)blocks * BlockBytes);
            int span = kernel != null || single != null || n <= Tile ? Math.Max(1, last - first) : Math.Max(1, ChunkBytes / (blocks * BlockBytes));
            for (int from = first; from < last; from += span)
            for (int t = 0, tile; t < n; t += tile)
            {
                tile = Math.Min(Tile, n - t);
                var assembled = tile == Tile ? kernel : single;
                if (assembled != null)
                {
                    if (tile < Tile) tile = 1;
                    args.Q = q + (long)t * input.Stride;
                    args.D = d + (long)t * blocks;
                    // The K-quant kernel reads the half blocks' integer sums where the group sums would be.
                    args.Sums = halfZero ? (float*)(zeroSums + (long)t * groups) : sums + (long)t * groups;
                    args.OffsetSums = (zeroSums != null && !halfZero ? zeroSums : offsetSums) + (long)t * blocks;
                    args.Result = output + (long)t * ldy + rowStart;
                    if (args.RowBlocks > 0) assembled.Run(&args);
                    continue;
                }
                var a = new Activations(q + (long)t * input.Stride, wide + (long)t * input.Stride, input.Stride,
                    d + (long)t * blocks, blocks, sums + (long)t * groups, groups, tile,
                    zeroSums == null ? null : zeroSums + (long)t * zeroStride, zeroStride, halfPairs == null ? null : halfPairs + (long)t * blocks);
                int count = Math.Min(last, from + span) - from;
                var block = matrix.At(from);
                // Five tiles or more pass over each chunk while L2 holds it: only the first reads it from
                // memory, and that one without prefetching (measured ~0.9× for a streamed pass) costs
                // less than what prefetching lines already in L2 costs the others (~3 % each).
                if (n > 4 * Tile) block = block.InChunks();
                // The 16 results of activation row t+k land straight in its output row; the AVX2 kernels
                // take the range's row blocks in one call.
                float* rows = output + (long)t * ldy + from * RowsPerBlock;
                if (Isa != KernelIsa.Avx512 && (tile > 1 ? RowBlock256Both(block, a, rows, ldy, count) : RowBlock256One(block, a, rows, count))) continue;
                for (int k = 0; k < count; k++, block = block.Next(), rows += RowsPerBlock)
                {
                    if (Isa == KernelIsa.Avx512) RowBlock(block, a, rows, ldy);
                    else
                    {
                        RowBlock256(block, a, rows, ldy, 0);
                        RowBlock256(block, a, rows + RowsPerBlock / 2, ldy, 1);
                    }
                }
            }
        }
        GC.KeepAlive(_codeBuffer); // the native memory lives as long as this matrix is in use
        GC.KeepAlive(_scaleBuffer);
    }

    /// <summary>
    /// Whether full tiles run on the AVX-512 VNNI kernel assembled at run time where the format has one
    /// (<see cref="Emit.VnniKernel"/>); on by default where the CPU has VNNI. Tests turn it off to
    /// compare the two paths.
    /// </summary>
    internal bool Vnni { get; set; } = Emit.VnniKernel.Available;

    /// <summary>
    /// About how many bytes of a range's row blocks the .NET kernels multiply with every tile of a
    /// prompt before moving on: well within a core's L2 (512 KiB on Zen 3) beside the tile. Tests set
    /// it small to cross chunk borders.
    /// </summary>
    internal int ChunkBytes { get; set; } = 128 * 1024;

    /// <summary>
    /// The .NET kernels' width: AVX-512 (<see cref="RowBlock"/>) where the CPU has it, else AVX2
    /// (<see cref="RowBlock256"/>), with AVX-VNNI's dot products where the CPU has those
    /// (<see cref="IDot256"/>; the int4 and int8 layouts' one-pass kernels). Tests set AVX2 (with
    /// <see cref="Vnni"/> off) to check that path here, and AVX-VNNI, which runs the same instructions'
    /// exact AVX2 form (<see cref="VnniForm"/>) on a CPU without them.
    /// </summary>
    internal KernelIsa Isa { get; set; } = KernelIsas.Best is KernelIsa.Avx512 or KernelIsa.AvxVnni ? KernelIsas.Best : KernelIsa.Avx2;

    /// <summary>
    /// Whether full tiles run on the AVX2 kernels assembled at run time where the blocks have one
    /// (<see cref="Emit.Avx2TileKernel"/>: Q4_0, Q4_K, Q2_K, Q3_K, Q5_K, Q6_K, Q8_0, Q5_0, IQ4_NL, IQ4_XS, the seed's int4 and int8) and <see cref="Isa"/> is AVX2; on where
    /// they can run. Tests turn it off to compare the two paths.
    /// </summary>
    internal bool AssembledAvx2 { get; set; } = Emit.Avx2TileKernel.Available;

    // The assembled AVX2 kernels for one kind of blocks and activation stride (streamed weights and
    // weights in chunks), looked up once: a lookup builds its key, which per call would allocate. Threads
    // may replace it at once; each call uses the set it read, which it has checked.
    private sealed record Avx2Kernels(Emit.Avx2TileBlocks Kind, int Stride, int Blocks, Emit.Avx2TileKernel? Streamed, Emit.Avx2TileKernel? Chunked);
    private Avx2Kernels? _avx2;

    /// <summary>True once a full tile has found assembled AVX2 kernels for these weights (tests: the path they compare did run).</summary>
    internal bool FoundAssembledAvx2 => _avx2 is { Streamed: not null, Chunked: not null };

    /// <summary>A table-indexed format's levels as the assembled AVX2 kernel looks them up (null for the others).</summary>
    private protected virtual byte* LevelTable => null;

    /// <summary>
    /// Codes with an fp16 scale and a zero point byte per group of whole blocks (the seed's int4 and
    /// int8, whose assembled AVX2 tiles fold a group at a time), the activations' group sums at hand.
    /// </summary>
    private protected static bool GroupedWithZeroPoints(Weights w, Activations a)
        => w.ZeroPoints != null && !w.Affine && w.BlocksPerGroup >= 1 && a.Groups == w.Groups && a.GroupSums(0) != null;

    /// <summary>The blocks an assembled AVX2 tile kernel folds for these weights and activations, or null (the .NET kernels run).</summary>
    private protected virtual Emit.Avx2TileBlocks? Avx2Blocks(Weights w, Activations a) => null;

    /// <summary>A full tile on an assembled AVX2 kernel; false where there is none (the .NET kernel runs).</summary>
    private protected bool RunAssembled(Weights w, Activations a, float* result, int stride, int count)
    {
        if (a.Tile != Tile || Isa != KernelIsa.Avx2 || !AssembledAvx2 || Avx2Blocks(w, a) is not { } kind) return false;
        var args = new Emit.Avx2TileKernel.Arguments
        {
            Codes = w.Codes, D = a.Scales(0), Scales = w.HalfScales,
            Q = kind is Emit.Avx2TileBlocks.Int8Scaled or Emit.Avx2TileBlocks.Int8Grouped ? a.Wide(0) : a.Codes(0),
            Result = result, ResultStrideBytes = (long)stride * sizeof(float), RowBlocks = count,
        };
        if (kind is Emit.Avx2TileBlocks.Int4Factored or Emit.Avx2TileBlocks.Int5Factored or Emit.Avx2TileBlocks.Int2Factored or Emit.Avx2TileBlocks.Int2Packed)
        {
            args.Scales = w.GroupFactors;
            args.Super = w.SuperFactorFloats;
            args.Sums = a.GroupSums(0);
        }
        else if (kind is Emit.Avx2TileBlocks.Int6Halves or Emit.Avx2TileBlocks.Int3Halves)
        {
            args.Scales = w.GroupFactors;
            args.Super = w.SuperFactorFloats;
            args.Starts = a.HalfPairs(0);
        }
        else if (kind is Emit.Avx2TileBlocks.Int4Grouped or Emit.Avx2TileBlocks.Int8Grouped)
        {
            args.Sums = a.GroupSums(0);
            args.Zeros = w.ZeroPoints;
        }
        else if (kind is Emit.Avx2TileBlocks.Int4Levels)
        {
            args.Scales = w.GroupFactors;
            args.Super = w.SuperFactorFloats;
            args.Levels = LevelTable;
        }
        else if (kind is Emit.Avx2TileBlocks.Int4LevelsScaled) args.Levels = LevelTable;
        else args.Starts = a.ZeroSums(0);
        var set = _avx2;
        if (set == null || set.Kind != kind || set.Stride != a.Stride || set.Blocks != a.Blocks)
            _avx2 = set = new Avx2Kernels(kind, a.Stride, a.Blocks, Emit.Avx2TileKernel.For(kind, a.Stride, a.Blocks, prefetch: true, w.BlocksPerGroup),
                Emit.Avx2TileKernel.For(kind, a.Stride, a.Blocks, prefetch: false, w.BlocksPerGroup));
        var kernel = w.Streamed ? set.Streamed : set.Chunked;
        if (kernel == null) return false;
        kernel.Run(&args);
        return true;
    }

    /// <summary>True when full tiles of activation rows of <paramref name="stride"/> codes run on an assembled VNNI kernel.</summary>
    internal bool RunsVnni(int stride) => VnniKernel(stride, Cols / BlockSize, Tile) != null;

    /// <summary>The VNNI kernel for this matrix and these activations, or null for the .NET path.</summary>
    private protected virtual Emit.VnniKernel? VnniKernel(int stride, int blocks, int tile) => null;

    // The assembled kernels for activation rows of one stride, looked up once (a lookup builds its key
    // and fold objects: per token that would allocate), replaced whole when the stride or Vnni changes.
    private sealed record KernelSet(int Stride, bool Vnni, Emit.VnniKernel? Four, Emit.VnniKernel? One);
    private KernelSet? _kernels;

    private (Emit.VnniKernel? Four, Emit.VnniKernel? One) AssembledKernels(int stride)
    {
        var set = _kernels;
        if (set == null || set.Stride != stride || set.Vnni != Vnni)
            _kernels = set = new KernelSet(stride, Vnni, VnniKernel(stride, Cols / BlockSize, Tile), VnniKernel(stride, Cols / BlockSize, 1));
        return (set.Four, set.One);
    }

    /// <summary>A K-quant layout's scales, with its <paramref name="planes"/> high-bit planes, as the assembled kernel folds them; null when they are not factored.</summary>
    private protected Emit.VnniFold.SixBit? SixBitFold(int planes) => _superFactors != null
        ? new Emit.VnniFold.SixBit(GroupSize == BlockSize / 2, _groupsPerSuper, _factorParts == 2, _signedFactors, planes) : null;

    /// <summary>Writes the 64-byte level table (level + 128 for each 4-bit index, in every 128-bit lane) of a table-indexed format.</summary>
    private protected virtual void VnniLevels(byte* table) { }

    /// <summary>Scales alone as the assembled kernels fold them (the codes are the values), or null for affine scales.</summary>
    private protected Emit.VnniFold.Scaled? ScaledFold => _superFactors != null
        ? _factorParts == 1 ? new Emit.VnniFold.Scaled(_groupsPerSuper, _signedFactors) : null
        : _affine != null ? null : new Emit.VnniFold.Scaled(0, false);

    /// <summary>Unsigned scale and offset bytes per 32 values (Q4_K), which the int4 layout's kernels fold in integers; else null.</summary>
    private protected Emit.VnniFold.IntegerFactored? IntegerFactoredFold => _superFactors != null && _factorParts == 2 && !_signedFactors && GroupSize == BlockSize
        ? new Emit.VnniFold.IntegerFactored(_groupsPerSuper) : null;

    /// <summary>How the assembled kernels fold this matrix's groups, or null where they do not (one factor part).</summary>
    private protected Emit.VnniFold? VnniFold => _superFactors != null
        ? _factorParts == 2 ? new Emit.VnniFold.Factored(_groupsPerSuper, _signedFactors) : null
        : _affine != null ? new Emit.VnniFold.Affine() : new Emit.VnniFold.ZeroPoint(_zeros != null);

    /// <summary>Activation rows one kernel call multiplies with a row block.</summary>
    private protected const int Tile = 4;

    // A super-block of rows 8·half.. (groups first..end − 1) into the tile's outputs: the offsets' Σ_g m·(d·Σq)
    // (each group's offset bytes converted once for the tile's rows; none without offset factors), then output += S·f − M·that.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static void FoldSuper256<T>(Weights w, Activations a, ActivationRow x0, ActivationRow x1, ActivationRow x2, ActivationRow x3,
        int super, int first, int end, int half, Vector256<float> f0, Vector256<float> f1, Vector256<float> f2, Vector256<float> f3,
        ref Vector256<float> acc0, ref Vector256<float> acc1, ref Vector256<float> acc2, ref Vector256<float> acc3) where T : struct, ITileRows
    {
        Vector256<float> m0 = default, m1 = default, m2 = default, m3 = default;
        for (int g = first; g < end && w.HasOffsetFactors; g++)
        {
            var m = w.OffsetFactors256(g, half);
            m0 = Vector256.FusedMultiplyAdd(m, Vector256.Create(x0.GroupSums[g]), m0);
            if (T.Has(a, 1)) m1 = Vector256.FusedMultiplyAdd(m, Vector256.Create(x1.GroupSums[g]), m1);
            if (T.Has(a, 2)) m2 = Vector256.FusedMultiplyAdd(m, Vector256.Create(x2.GroupSums[g]), m2);
            if (T.Has(a, 3)) m3 = Vector256.FusedMultiplyAdd(m, Vector256.Create(x3.GroupSums[g]), m3);
        }
        var scales = w.SuperFactors256(super, 0, half);
        var offsets = w.SuperFactors256(super, 1, half);
        acc0 = AffineGroup256(acc0, scales, offsets, f0, m0);
        if (T.Has(a, 1)) acc1 = AffineGroup256(acc1, scales, offsets, f1, m1);
        if (T.Has(a, 2)) acc2 = AffineGroup256(acc2, scales, offsets, f2, m2);
        if (T.Has(a, 3)) acc3 = AffineGroup256(acc3, scales, offsets, f3, m3);
    }

    /// <summary>
    /// Which of a tile's four activation rows an AVX2 kernel computes: all four (a full tile: the
    /// JIT drops the tests, measured 6–14 % faster) or those present (a last partial tile, or a
    /// server step over two or three sequences, where computing four would double the work).
    /// </summary>
    private protected interface ITileRows
    {
        static abstract bool Has(Activations a, int k);
    }

    private protected readonly struct FullTile : ITileRows
    {
        public static bool Has(Activations a, int k) => true;
    }

    private protected readonly struct PartialTile : ITileRows
    {
        public static bool Has(Activations a, int k) => k < a.Tile;
    }

    /// <summary>One activation row (generation): the tile kernels compiled for row 0 alone, without tests.</summary>
    private protected readonly struct OneRow : ITileRows
    {
        public static bool Has(Activations a, int k) => k == 0;
    }

    /// <summary>Pointers to the activation rows of one tile (missing rows repeat the last, and are not stored).</summary>
    private protected readonly struct Activations(sbyte* codes, short* wide, int stride, float* scales, int blocks, float* groupSums, int groups, int tile,
        int* zeroSums = null, int zeroStride = 0, int* halfPairs = null)
    {
        public int Tile => tile;
        public int Stride => stride;
        public int Blocks => blocks;
        public int Groups => groups;
        public int ZeroStride => zeroStride;
        /// <summary>Row k's zero starts or sums per block (null where there are none).</summary>
        public int* ZeroSums(int k) => zeroSums == null ? null : zeroSums + (long)Row(k) * zeroStride;
        /// <summary>Row k's half-sum pairs per block (null where there are none).</summary>
        public int* HalfPairs(int k) => halfPairs == null ? null : halfPairs + (long)Row(k) * blocks;
        private int Row(int k) => Math.Min(k, tile - 1);
        public sbyte* Codes(int k) => codes + (long)Row(k) * stride;
        public short* Wide(int k) => wide + (long)Row(k) * stride;
        public float* Scales(int k) => scales + (long)Row(k) * blocks;
        public float* GroupSums(int k) => groupSums + (long)Row(k) * groups;
        /// <summary>Row k's zero · Σq for block b (one shared zero point), or for half block b (16-value groups with scales only), else 0.</summary>
        public int ZeroSum(int k, int b) => zeroSums == null ? 0 : zeroSums[(long)Row(k) * zeroStride + b];
        /// <summary>Row k's pointers, for a kernel to take out of its block loop.</summary>
        public ActivationRow At(int k) => new(Codes(k), Wide(k), Scales(k), GroupSums(k), zeroSums == null ? null : zeroSums + (long)Row(k) * zeroStride,
            halfPairs == null ? null : halfPairs + (long)Row(k) * blocks);
    }

    /// <summary>One activation row of a tile (<see cref="Activations.At"/>): its codes, block scales, group sums, zero sums and half-block sum pairs.</summary>
    private protected readonly struct ActivationRow(sbyte* codes, short* wide, float* scales, float* groupSums, int* zeroSums, int* halfPairs)
    {
        public sbyte* Codes => codes;
        public short* Wide => wide;
        public float* Scales => scales;
        public float* GroupSums => groupSums;
        /// <summary>zero · Σq for block (or half block) b, else 0: as <see cref="Activations.ZeroSum"/> (AVX-512).</summary>
        public int ZeroSum(int b) => zeroSums == null ? 0 : zeroSums[b];

        /// <summary>Where block b's sums start so that they end without the shared zero point (256-bit kernels, as <see cref="ZeroInLaneStarts"/> chose the table).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> ZeroStart256(int b) => Vector256.Create(zeroSums[b]);

        /// <summary>
        /// Block b's two half sums Σq (<see cref="Q8Activations.HalfSumPairs"/>), broadcast: <c>vpmaddwd</c>
        /// of them by <see cref="Weights.ZeroScaleWords256(int, int)"/> gives Σ over the halves of scale · zero · Σq (AVX2).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<short> HalfSums256(int b) => Vector256.Create(halfPairs[b]).AsInt16();
    }

    /// <summary>One row block's codes, per-group scales and zero points (or float scales and offsets).</summary>
    [method: MethodImpl(MethodImplOptions.AggressiveInlining)] // built per row block inside the kernels' loops: a call there spills their vectors
    private protected readonly struct Weights(byte* codes, Half* scales, byte* zeros, int groups, int blocksPerGroup, int symmetricZero, float* affine,
        byte* groupFactors, float* superFactors, int superShift, int factorParts, bool signedFactors, bool sharedZero, long rowBlockBytes, bool inChunks = false)
    {
        /// <summary>
        /// The weights <paramref name="k"/> row blocks on: every pointer moved on by k row blocks' codes,
        /// scales and factors (the one place that knows a row block's extent in each array).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Weights At(long k) => new(codes + k * rowBlockBytes, scales + k * groups * RowsPerBlock,
            zeros == null ? null : zeros + k * groups * RowsPerBlock, groups, blocksPerGroup, symmetricZero,
            affine == null ? null : affine + k * groups * 2 * RowsPerBlock,
            superFactors == null ? null : groupFactors + k * groups * factorParts * RowsPerBlock,
            superFactors == null ? null : superFactors + k * (groups >> superShift) * factorParts * RowsPerBlock,
            superShift, factorParts, signedFactors, sharedZero, rowBlockBytes, inChunks);

        /// <summary>The next row block's weights.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Weights Next() => At(1);

        /// <summary>
        /// These weights read in chunks that L2 holds while every tile of a prompt passes over them, so
        /// the kernels ask for no lines ahead (in one process, alternating: 1.025–1.036× for Q4_0, Q4_K,
        /// Q8_0 and int8 tiles). Without it they stream from memory, each weight read once (generation,
        /// a server step: one tile over the whole range), and prefetch.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Weights InChunks() => new(codes, scales, zeros, groups, blocksPerGroup, symmetricZero, affine,
            groupFactors, superFactors, superShift, factorParts, signedFactors, sharedZero, rowBlockBytes, inChunks: true);

        /// <summary>
        /// Block <paramref name="b"/> of <paramref name="blockBytes"/> bytes, at the 32-byte half of its
        /// vectors that rows 8·half.. use (AVX2). Streamed weights: the first half's pass asks for the
        /// lines 4 KiB ahead (past the page border the hardware prefetcher stops at), the second finds
        /// them in cache. Half 0 is also the start of the block a one-row kernel reads whole.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public byte* Half256(int b, int blockBytes, int half)
        {
            byte* c = codes + (long)b * blockBytes;
            if (half == 0 && !inChunks) PrefetchAhead(c, blockBytes);
            return c + 32 * half;
        }

        /// <summary>Every code has the same zero point, out of each block's integer sum (<see cref="IBlockStart"/>; AVX-512: <see cref="Activations.ZeroSum"/>).</summary>
        public bool SharedZero => sharedZero;
        public byte* Codes => codes;
        public Half* HalfScales => scales;
        /// <summary>The zero point bytes (16 per group), or null where the codes share one or have offsets.</summary>
        public byte* ZeroPoints => zeros;
        public byte* GroupFactors => groupFactors;
        public float* SuperFactorFloats => superFactors;
        /// <summary>False where the weights are read <see cref="InChunks"/> (no lines asked for ahead).</summary>
        public bool Streamed => !inChunks;
        public int Groups => groups;
        public int BlocksPerGroup => blocksPerGroup;
        public bool Affine => affine != null || superFactors != null;

        /// <summary>Scales and offsets factored as bytes per group times floats per super-block (the K-quants).</summary>
        public bool Factored => superFactors != null;
        /// <summary>Groups per super-block of a factored layout.</summary>
        public int GroupsPerSuper => 1 << superShift;
        /// <summary>The 16 rows' unsigned scale bytes of factored group <paramref name="g"/>, each as two equal 16-bit words of its 32-bit lane (vpmaddwd's second operand).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<short> ScaleWords(int g)
        {
            var lane = Avx512F.ConvertToVector512Int32(Vector128.Load(groupFactors + (long)g * factorParts * RowsPerBlock));
            return (lane | (lane << 16)).AsInt16();
        }

        /// <summary>The 16 rows' offset bytes of factored group <paramref name="g"/> as floats (zero without offsets).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> OffsetFactors(int g) => factorParts < 2 ? Vector512<float>.Zero
            : Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(groupFactors + ((long)g * factorParts + 1) * RowsPerBlock)));

        /// <summary>Super-block <paramref name="super"/>'s 16 scale (part 0) or offset (part 1) floats (zero where it has no such part).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> SuperFactors(int super, int part)
            => part < factorParts ? Vector512.Load(superFactors + ((long)super * factorParts + part) * RowsPerBlock) : Vector512<float>.Zero;

        /// <summary>A factored layout with offset bytes besides its scale bytes (Q4_K, Q5_K, Q2_K).</summary>
        public bool HasOffsetFactors => superFactors != null && factorParts == 2;
        /// <summary>Factor bytes that are signed (Q3_K's, IQ4_XS's scales) rather than unsigned (Q4_K's).</summary>
        public bool SignedFactors => signedFactors;
        /// <summary>
        /// Rows 8·half.. of factored group <paramref name="g"/>'s scale bytes, each as two equal 16-bit
        /// words of its 32-bit lane: what <c>vpmaddwd</c> multiplies a lane's two 16-bit sums by (AVX2).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<short> ScaleWords256(int g, int half) => ScaleWords256(g, half, signedFactors);

        /// <summary><see cref="ScaleWords256(int, int)"/> for a kernel that knows whether the bytes are signed (a constant: no test per group).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<short> ScaleWords256(int g, int half, bool signed)
        {
            var lane = FactorLanes256(groupFactors + (long)g * factorParts * RowsPerBlock + half * 8, signed);
            if (signed) lane &= Vector256.Create(0xFFFF); // a negative byte's high word would spill into the second word
            return (lane | (lane << 16)).AsInt16();
        }

        // Eight factor bytes, each widened to its 32-bit lane (sign-extended where the factors are signed).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> FactorLanes256(byte* bytes, bool signed)
            => signed ? Avx2.ConvertToVector256Int32((sbyte*)bytes) : Avx2.ConvertToVector256Int32(bytes);

        /// <summary>
        /// Rows 8·half.. of 16-value groups <paramref name="g"/> and g + 1 (a block's halves): each lane's
        /// two 16-bit words are the two scale bytes times the codes' offset, the shared zero (within 16
        /// bits: |scale| ≤ 128, zero ≤ 32 for Q6_K and Q3_K): what <see cref="ActivationRow.HalfSums256"/> meets.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<short> ZeroScaleWords256(int g, int half) => ZeroScaleWords256(g, half, signedFactors);

        /// <summary><see cref="ZeroScaleWords256(int, int)"/> for a kernel that knows whether the bytes are signed.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<short> ZeroScaleWords256(int g, int half, bool signed)
        {
            byte* first = groupFactors + (long)g * factorParts * RowsPerBlock + half * 8, second = first + factorParts * RowsPerBlock;
            var low = FactorLanes256(first, signed);
            var high = FactorLanes256(second, signed);
            return Avx2.MultiplyLow(((low & Vector256.Create(0xFFFF)) | (high << 16)).AsInt16(), Vector256.Create((short)symmetricZero));
        }

        /// <summary>Rows 8·half.. of factored group <paramref name="g"/>'s unsigned offset bytes as floats (zero without offsets; AVX2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> OffsetFactors256(int g, int half)
        {
            if (factorParts < 2) return Vector256<float>.Zero;
            return Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(groupFactors + ((long)g * factorParts + 1) * RowsPerBlock + half * 8));
        }

        /// <summary>Rows 8·half.. of super-block <paramref name="super"/>'s scale (part 0) or offset (part 1) floats (AVX2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> SuperFactors256(int super, int part, int half)
            => part < factorParts ? Vector256.Load(superFactors + ((long)super * factorParts + part) * RowsPerBlock + half * 8) : Vector256<float>.Zero;

        // A factored group's 16 bytes (scale or offset factor) times its super-block's 16 floats.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Vector512<float> Factor(int g, int part)
        {
            var super = Vector512.Load(superFactors + ((long)(g >> superShift) * factorParts + part) * RowsPerBlock);
            byte* bytes = groupFactors + ((long)g * factorParts + part) * RowsPerBlock;
            var group = signedFactors
                ? Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)bytes))
                : Avx512F.ConvertToVector512Int32(Vector128.Load(bytes));
            return super * Avx512F.ConvertToVector512Single(group);
        }

        /// <summary>The group's 16 scales as floats.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Scales(int g)
        {
            if (superFactors != null) return Factor(g, 0);
            if (affine != null) return Vector512.Load(affine + (long)g * 2 * RowsPerBlock);
            return HalfConversion.Widen16(scales + (long)g * RowsPerBlock);
        }

        /// <summary>An affine group's 16 offsets.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Offsets(int g) => superFactors != null
            ? factorParts == 2 ? Factor(g, 1) : Vector512<float>.Zero
            : Vector512.Load(affine + (long)g * 2 * RowsPerBlock + RowsPerBlock);

        // A factored group's 8 bytes (scale or offset factor) of rows 8·half.. times its super-block's 8 floats (AVX2).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Vector256<float> Factor256(int g, int part, int half)
        {
            var super = Vector256.Load(superFactors + ((long)(g >> superShift) * factorParts + part) * RowsPerBlock + half * 8);
            byte* bytes = groupFactors + ((long)g * factorParts + part) * RowsPerBlock + half * 8;
            var group = signedFactors ? Avx2.ConvertToVector256Int32((sbyte*)bytes) : Avx2.ConvertToVector256Int32(bytes);
            return super * Avx.ConvertToVector256Single(group);
        }

        /// <summary>Rows 8·half .. 8·half + 7 of the group's scales as floats (AVX2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Scales256(int g, int half)
        {
            if (superFactors != null) return Factor256(g, 0, half);
            if (affine != null) return Vector256.Load(affine + (long)g * 2 * RowsPerBlock + half * 8);
            return HalfScales256(g, half);
        }

        /// <summary><see cref="Scales256"/> where the scales are known to be fp16 (no affine or factored source).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> HalfScales256(int g, int half)
            => HalfConversion.Widen(Avx2.ConvertToVector256Int32((short*)(scales + (long)g * RowsPerBlock + half * 8)));

        /// <summary>Rows 8·half .. 8·half + 7 of an affine group's offsets (AVX2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Offsets256(int g, int half) => superFactors != null
            ? factorParts == 2 ? Factor256(g, 1, half) : Vector256<float>.Zero
            : Vector256.Load(affine + (long)g * 2 * RowsPerBlock + RowsPerBlock + half * 8);

        /// <summary>Rows 8·half .. 8·half + 7 of the group's zero points as floats (AVX2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Zeros256(int g, int half) => zeros == null
            ? Vector256.Create((float)symmetricZero)
            : Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(zeros + (long)g * RowsPerBlock + half * 8));

        /// <summary>The group's 16 zero points as floats.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Zeros(int g) => zeros == null
            ? Vector512.Create((float)symmetricZero)
            : Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(zeros + (long)g * RowsPerBlock)));
    }

    /// <summary>
    /// result[k·stride + r] = row r of the block · activation row k, for the tile's rows: per group,
    /// scale · (Σ_b d_b · Σ code·q − zero · Σ_b d_b·Σq), or scale · Σ_b d_b · (Σ code·q − zero·Σq) with
    /// one shared zero point.
    /// </summary>
    /// <remarks>
    /// Each format writes this walk itself (a single generic walk over an operator struct per format
    /// was measured 1.5–2× slower: the unpacked int4 block, eight 512-bit vectors, left the
    /// registers); the group fold they share is <see cref="FoldGroup"/>.
    /// </remarks>
    private protected abstract void RowBlock(Weights w, Activations a, float* result, int stride);

    /// <summary>
    /// The AVX2 form of <see cref="RowBlock"/> for rows 8·<paramref name="half"/> .. 8·half + 7 of the block
    /// (a 256-bit register holds 8 rows' lanes): the first half streams the block's codes from memory,
    /// the second finds them in cache.
    /// </summary>
    private protected abstract void RowBlock256(Weights w, Activations a, float* result, int stride, int half);

    /// <summary>
    /// The AVX2 kernel for one activation row (generation) over <paramref name="count"/> consecutive row
    /// blocks from <paramref name="w"/> (their results one after another), both halves of each block in
    /// one pass (their activation broadcasts shared); false where the format has none (the two half passes run).
    /// </summary>
    private protected virtual bool RowBlock256One(Weights w, Activations a, float* result, int count) => false;

    /// <summary>
    /// The AVX2 kernel for a tile over <paramref name="count"/> consecutive row blocks from
    /// <paramref name="w"/>, both halves of each block in one pass (activation broadcasts shared by the
    /// 16 rows); false where the format has none (the two half passes run).
    /// </summary>
    private protected virtual bool RowBlock256Both(Weights w, Activations a, float* result, int stride, int count) => false;

    /// <summary><see cref="FoldGroup"/> for 8 rows (AVX2): affine offsets, one shared zero point (out of the integer sums already) or one per group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static void FoldGroup256<T>(Weights w, Activations a, ActivationRow x0, ActivationRow x1, ActivationRow x2, ActivationRow x3,
        int g, int half, Vector256<float> g0, Vector256<float> g1, Vector256<float> g2, Vector256<float> g3,
        ref Vector256<float> acc0, ref Vector256<float> acc1, ref Vector256<float> acc2, ref Vector256<float> acc3) where T : struct, ITileRows
    {
        var s = w.Scales256(g, half);
        if (w.Affine)
        {
            var o = w.Offsets256(g, half);
            acc0 = AffineGroup256(acc0, s, o, g0, x0.GroupSums, g);
            if (T.Has(a, 1)) acc1 = AffineGroup256(acc1, s, o, g1, x1.GroupSums, g);
            if (T.Has(a, 2)) acc2 = AffineGroup256(acc2, s, o, g2, x2.GroupSums, g);
            if (T.Has(a, 3)) acc3 = AffineGroup256(acc3, s, o, g3, x3.GroupSums, g);
            return;
        }
        if (w.SharedZero)
        {
            acc0 = Vector256.FusedMultiplyAdd(s, g0, acc0);
            if (T.Has(a, 1)) acc1 = Vector256.FusedMultiplyAdd(s, g1, acc1);
            if (T.Has(a, 2)) acc2 = Vector256.FusedMultiplyAdd(s, g2, acc2);
            if (T.Has(a, 3)) acc3 = Vector256.FusedMultiplyAdd(s, g3, acc3);
            return;
        }
        var z = w.Zeros256(g, half);
        acc0 = Vector256.FusedMultiplyAdd(s, g0 - z * x0.GroupSums[g], acc0);
        if (T.Has(a, 1)) acc1 = Vector256.FusedMultiplyAdd(s, g1 - z * x1.GroupSums[g], acc1);
        if (T.Has(a, 2)) acc2 = Vector256.FusedMultiplyAdd(s, g2 - z * x2.GroupSums[g], acc2);
        if (T.Has(a, 3)) acc3 = Vector256.FusedMultiplyAdd(s, g3 - z * x3.GroupSums[g], acc3);
    }

    /// <summary>
    /// A block's integer sums (the zero point already out of them, <see cref="IBlockStart"/>) times its
    /// activation scale <paramref name="d"/>, into its group's sums (AVX2).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static Vector256<float> AddBlock256(float d, Vector256<int> sum, Vector256<float> group)
        => Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(d), group);

    /// <summary>
    /// Where a block's integer sums start (256-bit kernels): where every code shares a zero point, at
    /// the value that leaves them without it (<see cref="ActivationRow.ZeroStart256"/>, no step per block
    /// after the sums); else at zero (no zero point, or one per group that the group fold takes out).
    /// </summary>
    private protected interface IBlockStart
    {
        static abstract Vector256<int> Of(ActivationRow x, int b);
    }

    private protected readonly struct ZeroStart : IBlockStart
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Of(ActivationRow x, int b) => x.ZeroStart256(b);
    }

    private protected readonly struct NoZero : IBlockStart
    {
        public static Vector256<int> Of(ActivationRow x, int b) => default;
    }

    /// <summary>
    /// Where a block's sums join its output: each block (a group of one block with the zero point out
    /// of the integer sums, Q8_0's case: acc += s·(d·Σ), the bits <see cref="FoldGroup256{T}"/> gives
    /// with the group's sum starting at zero, without keeping that sum) or each group.
    /// </summary>
    private protected interface IFoldUnit
    {
        static abstract bool Block { get; }
    }

    private protected readonly struct EachBlock : IFoldUnit
    {
        public static bool Block => true;
    }

    private protected readonly struct EachGroup : IFoldUnit
    {
        public static bool Block => false;
    }

    /// <summary>Groups of one block whose zero point is out of the integer sums (Q4_0, Q8_0; fp16 scales): they fold <see cref="EachBlock"/>.</summary>
    private protected static bool OneBlockGroups(Weights w) => w.BlocksPerGroup == 1 && w.SharedZero && !w.Affine;

    // A one-block group's sums (the zero point out of them) straight into the output: s·(d·Σ), as AddBlock256 from zero then FoldGroup256.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static Vector256<float> ScaledBlock256(float d, Vector256<int> sum, Vector256<float> scale, Vector256<float> acc)
        => Vector256.FusedMultiplyAdd(scale, Avx.ConvertToVector256Single(sum) * Vector256.Create(d), acc);

    /// <summary>Stores the tile's 8-row results (AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static void Store256(Activations a, float* result, int stride, Vector256<float> acc0, Vector256<float> acc1, Vector256<float> acc2, Vector256<float> acc3)
    {
        acc0.Store(result);
        if (a.Tile > 1) acc1.Store(result + stride);
        if (a.Tile > 2) acc2.Store(result + 2 * stride);
        if (a.Tile > 3) acc3.Store(result + 3 * stride);
    }

    /// <summary>
    /// Folds group <paramref name="g"/>'s sums of the tile's rows into their accumulators, as the
    /// weights hold their zero points: affine offsets, one shared zero point (already out of the
    /// integer sums), or a zero point per group.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static void FoldGroup(Weights w, Activations a, ActivationRow x0, ActivationRow x1, ActivationRow x2, ActivationRow x3,
        int g, Vector512<float> g0, Vector512<float> g1, Vector512<float> g2, Vector512<float> g3,
        ref Vector512<float> acc0, ref Vector512<float> acc1, ref Vector512<float> acc2, ref Vector512<float> acc3)
    {
        int tile = a.Tile;
        var s = w.Scales(g);
        if (w.Affine)
        {
            var o = w.Offsets(g);
            acc0 = AffineGroup(acc0, s, o, g0, x0.GroupSums, g);
            if (tile > 1) acc1 = AffineGroup(acc1, s, o, g1, x1.GroupSums, g);
            if (tile > 2) acc2 = AffineGroup(acc2, s, o, g2, x2.GroupSums, g);
            if (tile > 3) acc3 = AffineGroup(acc3, s, o, g3, x3.GroupSums, g);
        }
        else if (w.SharedZero)
        {
            acc0 = Vector512.FusedMultiplyAdd(s, g0, acc0);
            if (tile > 1) acc1 = Vector512.FusedMultiplyAdd(s, g1, acc1);
            if (tile > 2) acc2 = Vector512.FusedMultiplyAdd(s, g2, acc2);
            if (tile > 3) acc3 = Vector512.FusedMultiplyAdd(s, g3, acc3);
        }
        else
        {
            var z = w.Zeros(g);
            acc0 = Group(acc0, s, z, g0, x0.GroupSums, g);
            if (tile > 1) acc1 = Group(acc1, s, z, g1, x1.GroupSums, g);
            if (tile > 2) acc2 = Group(acc2, s, z, g2, x2.GroupSums, g);
            if (tile > 3) acc3 = Group(acc3, s, z, g3, x3.GroupSums, g);
        }
    }

    /// <summary>Folds one group's sums into the accumulators of the tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static Vector512<float> Group(Vector512<float> acc, Vector512<float> scale, Vector512<float> zero, Vector512<float> sum, float* groupSums, int g)
        => Vector512.FusedMultiplyAdd(scale, sum - zero * groupSums[g], acc);

    /// <summary>Folds one affine group's sums: scale · Σ_b d_b·Σ code·q − offset · Σ_b d_b·Σq.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static Vector512<float> AffineGroup(Vector512<float> acc, Vector512<float> scale, Vector512<float> offset, Vector512<float> sum, float* groupSums, int g)
        => AffineGroup(acc, scale, offset, sum, Vector512.Create(groupSums[g]));

    /// <summary>acc + scale · sum − offset · offsetSum, each step rounded once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static Vector512<float> AffineGroup(Vector512<float> acc, Vector512<float> scale, Vector512<float> offset, Vector512<float> sum, Vector512<float> offsetSum)
        => Vector512.FusedMultiplyAdd(-offset, offsetSum, Vector512.FusedMultiplyAdd(scale, sum, acc));

    /// <summary><see cref="AffineGroup(Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, float*, int)"/> for 8 rows (AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static Vector256<float> AffineGroup256(Vector256<float> acc, Vector256<float> scale, Vector256<float> offset, Vector256<float> sum, float* groupSums, int g)
        => AffineGroup256(acc, scale, offset, sum, Vector256.Create(groupSums[g]));

    /// <summary>acc + scale · sum − offset · offsetSum (AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static Vector256<float> AffineGroup256(Vector256<float> acc, Vector256<float> scale, Vector256<float> offset, Vector256<float> sum, Vector256<float> offsetSum)
        => Vector256.FusedMultiplyAdd(-offset, offsetSum, Vector256.FusedMultiplyAdd(scale, sum, acc));
}
