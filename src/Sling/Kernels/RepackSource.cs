namespace Sling.Kernels;

/// <summary>
/// What a repack into the interleaved layout reads: per row, the stored code bytes of each 32-input
/// block (at a fixed stride), and per row and group a scale and a zero point. A group matrix is one
/// source; a GGUF file's Q4_0 blocks (scale and codes side by side) are another, read straight from
/// the file so no intermediate copy is made.
/// </summary>
internal abstract unsafe class RepackSource
{
    public abstract int Rows { get; }
    public abstract int Cols { get; }
    public abstract int GroupSize { get; }
    public int Groups => Cols / GroupSize;
    /// <summary>Null zero points: every group's zero is <see cref="SymmetricZero"/>.</summary>
    public abstract bool Symmetric { get; }
    public abstract int SymmetricZero { get; }
    /// <summary>The first block's code bytes of a row; block b starts <see cref="BlockStride"/>·b bytes later.</summary>
    public abstract byte* RowCodes(int row);
    public abstract int BlockStride { get; }

    /// <summary>
    /// The 16 bytes of a 4-bit block in the stored order (byte j: code j low, code j + 16 high), as
    /// four words; by default read at <see cref="RowCodes"/> + block · <see cref="BlockStride"/>. A
    /// format whose nibbles are arranged otherwise (Q4_K) rearranges them here.
    /// </summary>
    public virtual void Int4Block(int row, int block, uint* words)
    {
        uint* source = (uint*)(RowCodes(row) + (long)block * BlockStride);
        words[0] = source[0]; words[1] = source[1]; words[2] = source[2]; words[3] = source[3];
    }
    /// <summary>
    /// A row's code bytes for the int8 layout, 32 per block one after another: by default
    /// <see cref="RowCodes"/> itself; a source that decodes (Q5_K, Q6_K) writes them to
    /// <paramref name="scratch"/> (<see cref="Cols"/> bytes) and returns it.
    /// </summary>
    public virtual byte* Int8RowCodes(int row, byte* scratch) => RowCodes(row);
    public abstract Half Scale(int row, int group);
    public abstract int Zero(int row, int group);
    /// <summary>Called when the repack is done: a memory-mapped source drops its resident pages.</summary>
    public abstract void Release();

    /// <summary>
    /// True when each group's values are scale·code − offset with float scale and offset (llama.cpp's
    /// Q4_K and Q4_1: d·sc·q − dmin·m) rather than fp16 scale·(code − zero).
    /// </summary>
    public virtual bool Affine => false;
    public virtual float AffineScale(int row, int group) => throw new NotSupportedException();
    public virtual float AffineOffset(int row, int group) => throw new NotSupportedException();
    /// <summary>An affine source's scales and offsets as the file factors them (K-quants), or null;
    /// row r of this source is row <see cref="FactorRowStart"/> + r of the factors' arrays.</summary>
    public virtual AffineBlockMatrix.SuperBlockFactors? Factors => null;
    public virtual int FactorRowStart => 0;

    /// <summary>True when the code bytes are signed (an affine source's code minus its zero point).</summary>
    public virtual bool SignedCodes => false;
    /// <summary>The smallest and largest signed code, where the source has them at hand (a copy in memory); null otherwise.</summary>
    public virtual (int Min, int Max)? SignedCodeRange => null;
    /// <summary>The format's name when it is not Sling's own int4/int8 (e.g. "q4_k").</summary>
    public virtual string? Format => null;

    /// <summary>For 4-bit codes that index a table of 16 values (IQ4_NL, IQ4_XS): the table; null when codes are the values.</summary>
    public virtual sbyte[]? Levels => null;

    public static RepackSource Of(GroupMatrix m) => new GroupMatrixSource(m);

    private sealed class GroupMatrixSource(GroupMatrix m) : RepackSource
    {
        public override int Rows => m.Rows;
        public override int Cols => m.Cols;
        public override int GroupSize => m.GroupSize;
        public override bool Symmetric => m is Int4GroupMatrix { Symmetric: true } or Int8GroupMatrix { Symmetric: true };
        public override int SymmetricZero => m is Int4GroupMatrix ? Int4GroupMatrix.SymmetricZero : Int8GroupMatrix.SymmetricZero;
        public override byte* RowCodes(int row) => m.RowCodes(row);
        public override int BlockStride => m is Int4GroupMatrix ? Int4GroupMatrix.BlockSize / 2 : Q8Activations.BlockSize;
        public override Half Scale(int row, int group) => m.RowScales(row)[group];
        public override int Zero(int row, int group) => m.Zero(row, group);
        public override void Release() => m.ReleaseSource();
    }
}

/// <summary>
/// llama.cpp's Q4_0 blocks in place: per 32 weights an fp16 scale then 16 code bytes (codes j and j+16
/// share byte j), zero 8. IQ4_NL has the same blocks with codes that index its 16 levels (zero 0).
/// </summary>
internal sealed unsafe class Q4_0Source(byte* blocks, int rows, int cols, Formats.IMappedWeights? file, bool iq4 = false) : RepackSource
{
    private const int BlockBytes = 18;
    public override int Rows => rows;
    public override int Cols => cols;
    public override int GroupSize => Int4GroupMatrix.BlockSize;
    public override bool Symmetric => true;
    public override int SymmetricZero => iq4 ? 0 : Int4GroupMatrix.SymmetricZero;
    public override sbyte[]? Levels => iq4 ? Formats.GgmlBlocks.Iq4Levels : null;
    public override string? Format => iq4 ? "iq4_nl" : null;
    public override byte* RowCodes(int row) => blocks + (long)row * (cols / 32) * BlockBytes + 2;
    public override int BlockStride => BlockBytes;
    public override Half Scale(int row, int group) => *(Half*)(blocks + ((long)row * (cols / 32) + group) * BlockBytes);
    public override int Zero(int row, int group) => SymmetricZero;
    public override void Release() => file?.Release(blocks, (long)rows * (cols / 32) * BlockBytes);
}

/// <summary>
/// A GGUF tensor of super-block types (K-quants, IQ4_XS) read in place: the scales factored as the file
/// stores them (<see cref="Sling.Models.GgufLoader.Factors"/>), the codes taken from the file's blocks
/// by each type's reader as the layout is filled, so no intermediate copy of the matrix is made.
/// </summary>
internal abstract unsafe class FactoredFileSource(uint type, byte* blocks, int rows, int cols, AffineBlockMatrix.SuperBlockFactors factors, Formats.IMappedWeights? file) : RepackSource
{
    private readonly long _rowBytes = (long)cols / Formats.GgmlBlocks.Layout(type)!.Value.Values * Formats.GgmlBlocks.Layout(type)!.Value.Bytes;
    /// <summary>Bytes of one super-block.</summary>
    private protected static int SuperBlockBytes(uint type) => Formats.GgmlBlocks.Layout(type)!.Value.Bytes;
    /// <summary>Row <paramref name="row"/>'s first super-block.</summary>
    private protected byte* Row(int row) => blocks + row * _rowBytes;
    /// <summary>The ggml type of the blocks.</summary>
    private protected uint Type => type;
    public override int Rows => rows;
    public override int Cols => cols;
    public override int GroupSize => factors.GroupSize;
    public override bool Symmetric => true;
    public override int SymmetricZero => 0;
    public override byte* RowCodes(int row) => throw new NotSupportedException($"{Format} codes are read block by block");
    public override int BlockStride => 0;
    public override Half Scale(int row, int group) => throw new NotSupportedException();
    public override int Zero(int row, int group) => 0;
    public override bool Affine => true;
    public override AffineBlockMatrix.SuperBlockFactors Factors => factors;
    public override string Format => Formats.GgufFile.TypeName(type).ToLowerInvariant();
    public override void Release() => file?.Release(blocks, rows * _rowBytes);
}

/// <summary>
/// llama.cpp's IQ4_XS blocks: per 256 weights an fp16 d, 6-bit scales per 32 (high bits, then low
/// nibbles), then eight 16-byte runs of 4-bit level indices in Q4_0's order, which go straight into
/// the int4 layout (<see cref="Formats.GgmlBlocks.Iq4XsFactors"/> reads the scales).
/// </summary>
internal sealed unsafe class Iq4XsSource(byte* blocks, int rows, int cols, AffineBlockMatrix.SuperBlockFactors factors, Formats.IMappedWeights? file)
    : FactoredFileSource(Formats.GgmlBlocks.IQ4_XS, blocks, rows, cols, factors, file)
{
    private static readonly int BlockBytes = SuperBlockBytes(Formats.GgmlBlocks.IQ4_XS);
    public override sbyte[] Levels => Formats.GgmlBlocks.Iq4Levels;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public override void Int4Block(int row, int block, uint* words)
    {
        uint* qs = (uint*)(Row(row) + (long)(block / 8) * BlockBytes + 8 + block % 8 * 16);
        words[0] = qs[0]; words[1] = qs[1]; words[2] = qs[2]; words[3] = qs[3];
    }
}

/// <summary>
/// llama.cpp's Q4_K blocks: per 256 weights d, dmin, twelve bytes of 6-bit scales and mins, then 128
/// bytes whose byte l holds value l (low nibble) and value l + 32 (high nibble) of each 64 values
/// (<see cref="Formats.GgmlBlocks.Q45KFactors"/> reads the scales).
/// </summary>
internal sealed unsafe class Q4KSource(byte* blocks, int rows, int cols, AffineBlockMatrix.SuperBlockFactors factors, Formats.IMappedWeights? file)
    : FactoredFileSource(Formats.GgmlBlocks.Q4_K, blocks, rows, cols, factors, file)
{
    private static readonly int BlockBytes = SuperBlockBytes(Formats.GgmlBlocks.Q4_K);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public override void Int4Block(int row, int block, uint* words)
    {
        // Block b (32 values) of a row: super-block b / 8, 64-value pair (b % 8) / 2, low or high nibbles.
        uint* qs = (uint*)(Row(row) + (long)(block / 8) * BlockBytes + 16 + (block % 8) / 2 * 32);
        int shift = block % 2 * 4;
        const uint Low = 0x0F0F0F0F;
        for (int i = 0; i < 4; i++) words[i] = (qs[i] >> shift & Low) | (qs[i + 4] >> shift & Low) << 4;
    }
}

/// <summary>
/// llama.cpp's K-quant blocks (Q2_K, Q3_K, Q5_K, Q6_K) for the 6-bit layout: each row's codes are
/// decoded from the file's blocks straight into signed bytes (code − zero; Q6_K's q − 32).
/// </summary>
internal sealed unsafe class KQuantInt8Source(uint type, byte* blocks, int rows, int cols, AffineBlockMatrix.SuperBlockFactors factors, Formats.IMappedWeights? file)
    : FactoredFileSource(type, blocks, rows, cols, factors, file)
{
    public override bool SignedCodes => true;
    public override int BlockStride => Q8Activations.BlockSize;

    /// <summary>The type's own range (<see cref="Formats.GgmlBlocks.SignedCodes"/>): Q6_K q − 32, Q5_K q, Q3_K q − 4, Q2_K q.</summary>
    public override (int Min, int Max)? SignedCodeRange => Type switch
    {
        Formats.GgmlBlocks.Q6_K => (-32, 31),
        Formats.GgmlBlocks.Q5_K => (0, 31),
        Formats.GgmlBlocks.Q3_K => (-4, 3),
        Formats.GgmlBlocks.Q2_K => (0, 3),
        _ => null,
    };

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public override byte* Int8RowCodes(int row, byte* scratch)
    {
        Formats.GgmlBlocks.SignedCodes(Type, Row(row), Cols / AffineBlockMatrix.SuperBlockFactors.SuperBlock, (sbyte*)scratch);
        return scratch;
    }
}
