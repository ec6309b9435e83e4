using System.Runtime.InteropServices;

namespace Sling.Kernels;

/// <summary>
/// Native memory for weights the engine streams on every token, aligned to 2 MiB and, on Linux,
/// marked for transparent huge pages: the hardware prefetcher does not cross 4 KiB page borders,
/// and fewer pages mean fewer TLB misses while gigabytes stream past. Freed when collected.
/// </summary>
internal sealed unsafe class NativeBuffer
{
    private const nuint Alignment = 2 << 20;

    public NativeBuffer(long length)
    {
        Length = length;
        // Not rounded up: with huge pages the kernel backs whole 2 MiB pages, so a rounded tail would be
        // resident waste. Small buffers gain nothing from huge pages and keep a cache-line alignment.
        bool huge = length >= (long)Alignment;
        nuint size = (nuint)Math.Max(1, length);
        Pointer = (byte*)NativeMemory.AlignedAlloc(size, huge ? Alignment : 64);
        if (huge) Pages.AdviseHuge(Pointer, size);
        GC.AddMemoryPressure(length);
    }

    public byte* Pointer { get; }
    public long Length { get; }

    ~NativeBuffer()
    {
        NativeMemory.AlignedFree(Pointer);
        GC.RemoveMemoryPressure(Length);
    }
}
