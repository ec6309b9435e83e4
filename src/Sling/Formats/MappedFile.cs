using System.IO.MemoryMappedFiles;

namespace Sling.Formats;

/// <summary>
/// A read-only memory map of a whole file. Weights are read in place through it, so a model never
/// needs a second copy of its file in memory. Every access is bounds-checked against the file length.
/// </summary>
public sealed unsafe class MappedFile : IDisposable, IMappedWeights
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _base;

    public string Path { get; }
    public long Length { get; }

    private MappedFile(string path, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePointer)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        _base = basePointer;
    }

    public static MappedFile Open(string path)
    {
        if (Directory.Exists(path))
            throw new ModelFormatException(path, "is a directory, expected a file");
        if (!File.Exists(path))
            throw new SlingException($"{path}: file not found");
        // A symbolic link (the Hugging Face cache links snapshot files to blobs) has its target's length.
        var info = new FileInfo(path);
        if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target) info = target;
        long length = info.Length;
        if (length == 0)
            return new MappedFile(path, 0, null, null, null); // an empty file cannot be mapped; readers report it
        try
        {
            var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            return new MappedFile(path, length, map, view, p + view.PointerOffset);
        }
        catch (IOException e)
        {
            throw new SlingException($"{path}: cannot open: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new SlingException($"{path}: cannot open: {e.Message}", e);
        }
    }

    /// <summary>True when [offset, offset+count) lies inside the file.</summary>
    public bool Contains(long offset, long count) => offset >= 0 && count >= 0 && offset <= Length && count <= Length - offset;

    /// <summary>A pointer to <paramref name="count"/> bytes at <paramref name="offset"/>; throws when they run past the end.</summary>
    public byte* Pointer(long offset, long count, string what)
    {
        if (!Contains(offset, count))
            throw new ModelFormatException(Path,
                $"{what} needs bytes {offset}..{offset + count} but the file has only {Length} bytes (truncated or corrupt)");
        ObjectDisposedException.ThrowIf(_base == null && Length > 0, this);
        return _base + offset;
    }

    /// <summary>
    /// Drops the resident pages of a range that has been copied elsewhere (the mapping is read-only,
    /// so a later read simply faults the file back in): peak memory stays near one copy of the weights.
    /// </summary>
    public void Release(byte* start, long count)
    {
        if (_base == null || !OperatingSystem.IsLinux() || start < _base || start + count > _base + Length) return;
        const long Page = Kernels.Pages.Size;
        long first = ((long)start + Page - 1) / Page * Page, end = ((long)start + count) / Page * Page;
        if (end <= first) return;
        Kernels.Pages.Drop((void*)first, (nuint)(end - first));
    }

    /// <summary>
    /// Drops every resident page of the map. Loading touched the header, the copied vectors and the
    /// neighbours the kernel maps around each fault (64 KiB windows); whatever still runs from the map
    /// in place faults its pages back in on first use, so afterwards only those stay resident.
    /// </summary>
    public void ReleaseAll() => Release(_base, Length);

    public ReadOnlySpan<byte> Bytes(long offset, int count, string what) => new(Pointer(offset, count, what), count);

    public T Read<T>(long offset, string what) where T : unmanaged
        => System.Runtime.CompilerServices.Unsafe.ReadUnaligned<T>(Pointer(offset, sizeof(T), what));

    public void Dispose()
    {
        if (_view != null && _base != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _base = null;
        }
        _view?.Dispose();
        _map?.Dispose();
    }
}

/// <summary>Something that holds weights in a read-only memory map and can drop their resident pages.</summary>
public unsafe interface IMappedWeights
{
    /// <summary>Drops the pages of [start, start + count) if they belong to the map; otherwise nothing.</summary>
    void Release(byte* start, long count);
}
