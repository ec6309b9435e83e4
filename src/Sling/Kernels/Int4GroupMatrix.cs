namespace Sling.Kernels;

/// <summary>
/// 4-bit weights with one fp16 scale and one 4-bit zero point per group of inputs:
/// w = (code − zero) · scale. Layout (row-major, chosen for the SIMD kernel):
/// <list type="bullet">
/// <item>codes: Cols/2 bytes per row, in blocks of 32 inputs = 16 bytes; byte j of a block holds input j
/// in its low nibble and input j+16 in its high nibble, so one mask and one shift give two runs of 16
/// consecutive codes;</item>
/// <item>scales: Cols/GroupSize fp16 per row;</item>
/// <item>zero points: two groups per byte (even group in the low nibble), (groups+1)/2 bytes per row,
/// or none for symmetric weights, whose codes are stored offset by 8 (zero = 8).</item>
/// </list>
/// The dot product is scale · (Σ code·x − zero · Σ x) per group, with Σ x computed once per call.
/// </summary>
internal sealed unsafe partial class Int4GroupMatrix : GroupMatrix
{
    public const int BlockSize = 32;
    public const int SymmetricZero = 8;
    private readonly byte* _codes;
    private readonly byte* _zeros;
    private readonly object? _owner;

    public Int4GroupMatrix(byte* codes, Half* scales, byte* zeros, int rows, int cols, int groupSize, object? owner) : base(scales, rows, cols, groupSize)
    {
        if (groupSize <= 0 || groupSize % BlockSize != 0 || cols % groupSize != 0)
            throw new ArgumentException($"int4 group size {groupSize} must be a multiple of {BlockSize} that divides the row length {cols}");
        _codes = codes;
        _zeros = zeros;
        _owner = owner;
    }

    public bool Symmetric => _zeros == null;
    public static int CodeBytesPerRow(int cols) => cols / 2;
    public static int ZeroBytesPerRow(int groups) => (groups + 1) / 2;

    public override string Format => Symmetric ? "int4_sym" : "int4_asym";
    public override long ByteSize => (long)Rows * (Cols / 2 + Groups * 2 + (Symmetric ? 0 : ZeroBytesPerRow(Groups)));

    internal override byte* RowCodes(int row) => _codes + (long)row * (Cols / 2);

    internal override void ReleaseSource()
    {
        if (_owner is not Formats.IMappedWeights file) return;
        file.Release(_codes, (long)Rows * (Cols / 2));
        file.Release((byte*)_scales, (long)Rows * Groups * sizeof(Half));
        if (_zeros != null) file.Release(_zeros, (long)Rows * (ZeroBytesPerRow(Groups)));
    }

    public override int Zero(int row, int group)
    {
        if (_zeros == null) return SymmetricZero;
        byte b = _zeros[(long)row * ZeroBytesPerRow(Groups) + group / 2];
        return group % 2 == 0 ? b & 0xF : b >> 4;
    }

    public override int Code(int row, int col)
    {
        byte b = _codes[(long)row * (Cols / 2) + col / BlockSize * 16 + col % 16];
        return col % BlockSize < 16 ? b & 0xF : b >> 4;
    }


    public override WeightMatrix SliceRows(int start, int count)
    {
        CheckSlice(start, count);
        return new Int4GroupMatrix(_codes + (long)start * (Cols / 2), _scales + (long)start * Groups,
            _zeros == null ? null : _zeros + (long)start * ZeroBytesPerRow(Groups), count, Cols, GroupSize, _owner) { Isa = Isa };
    }
}
