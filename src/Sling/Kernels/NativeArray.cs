using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sling.Kernels;

/// <summary>
/// Zeroed scratch memory outside the garbage-collected heap for activation rows and their int8 form:
/// it never moves (kernels keep raw pointers into it), and <see cref="Dispose"/> hands it back at once
/// — pages of their own (large arrays, on Linux) are unmapped, so a prompt's batch buffers stop counting
/// as resident the moment generation no longer needs them. (Pinned managed arrays would stay committed
/// by the collector, which cannot compact pinned objects.) Freed when collected if not disposed.
/// </summary>
internal sealed unsafe class NativeArray<T> : IDisposable where T : unmanaged
{
    private const long PagesFrom = 64 << 10;
    private T* _pointer;
    private readonly nuint _bytes;
    private readonly bool _mapped;

    public NativeArray(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        long bytes = Math.Max(1, (long)length * sizeof(T));
        nuint whole = Pages.RoundUp(bytes);
        void* pages = bytes >= PagesFrom ? Pages.Map(whole) : null;
        if (pages != null)
        {
            _pointer = (T*)pages;
            _bytes = whole;
            _mapped = true;
        }
        else
        {
            _bytes = (nuint)bytes;
            _pointer = (T*)NativeMemory.AlignedAlloc(_bytes, 64);
            NativeMemory.Clear(_pointer, _bytes);
        }
        GC.AddMemoryPressure((long)_bytes);
    }

    public int Length { get; }

    public T* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == null, this);
            return _pointer;
        }
    }

    public Span<T> Span => new(Pointer, Length);

    public Span<T> AsSpan(int start, int length)
    {
        if ((uint)start > (uint)Length || (uint)length > (uint)(Length - start))
            throw new ArgumentOutOfRangeException(nameof(length), $"{start}..{start + length} of {Length}");
        return new(Pointer + start, length);
    }

    public ref T this[int index]
    {
        // Small enough to inline into the kernels' loops: the throw is out of line (a method that
        // throws was not inlined, so every element access was a call).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if ((uint)index >= (uint)Length) ThrowOutside(index);
            return ref Pointer[index];
        }
    }

    [DoesNotReturn]
    private void ThrowOutside(int index) => throw new IndexOutOfRangeException($"index {index} of a native array of {Length}");

    /// <summary>Lets <c>fixed (T* p = array)</c> take the pointer (the memory never moves).</summary>
    public ref T GetPinnableReference() => ref *Pointer;

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~NativeArray() => Free();

    private void Free()
    {
        var p = _pointer;
        if (p == null) return;
        _pointer = null;
        if (_mapped) Pages.Unmap(p, _bytes);
        else NativeMemory.AlignedFree(p);
        GC.RemoveMemoryPressure((long)_bytes);
    }
}
