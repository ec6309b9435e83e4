namespace Sling.Kernels;

/// <summary>
/// 8-bit weights with one fp16 scale and one 8-bit zero point per group of inputs (a group of a
/// whole row = per output channel): w = (code − zero) · scale. Codes are unsigned bytes, row-major;
/// symmetric weights store no zero points and their codes offset by 128 (zero = 128).
/// </summary>
internal sealed unsafe partial class Int8GroupMatrix : GroupMatrix
{
    public const int SymmetricZero = 128;
    private readonly byte* _codes;
    private readonly byte* _zeros;
    private readonly object? _owner;

    public Int8GroupMatrix(byte* codes, Half* scales, byte* zeros, int rows, int cols, int groupSize, object? owner) : base(scales, rows, cols, groupSize)
    {
        if (groupSize <= 0 || cols % groupSize != 0)
            throw new ArgumentException($"int8 group size {groupSize} does not divide the row length {cols}");
        _codes = codes;
        _zeros = zeros;
        _owner = owner;
    }

    public bool Symmetric => _zeros == null;

    public override string Format => Symmetric ? "int8_sym" : "int8_asym";
    public override long ByteSize => (long)Rows * (Cols + Groups * 2 + (Symmetric ? 0 : Groups));

    internal override byte* RowCodes(int row) => _codes + (long)row * (Cols);

    internal override void ReleaseSource()
    {
        if (_owner is not Formats.IMappedWeights file) return;
        file.Release(_codes, (long)Rows * (Cols));
        file.Release((byte*)_scales, (long)Rows * Groups * sizeof(Half));
        if (_zeros != null) file.Release(_zeros, (long)Rows * (Groups));
    }

    public override int Zero(int row, int group) => _zeros == null ? SymmetricZero : _zeros[(long)row * Groups + group];
    public override int Code(int row, int col) => _codes[(long)row * Cols + col];

    public override WeightMatrix SliceRows(int start, int count)
    {
        CheckSlice(start, count);
        return new Int8GroupMatrix(_codes + (long)start * Cols, _scales + (long)start * Groups,
            _zeros == null ? null : _zeros + (long)start * Groups, count, Cols, GroupSize, _owner) { Isa = Isa };
    }
}
