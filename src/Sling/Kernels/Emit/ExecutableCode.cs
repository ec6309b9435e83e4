namespace Sling.Kernels.Emit;

/// <summary>
/// Machine code copied into pages of its own, then made executable and read-only (never writable and
/// executable at once). Linux only; the pages live as long as the process, as the few kernels do.
/// </summary>
internal static unsafe class ExecutableCode
{
    /// <summary>The code's entry point, or null when this system does not allow it.</summary>
    public static void* Load(byte[] code)
    {
        nuint size = Pages.RoundUp(code.Length);
        void* pages = Pages.Map(size);
        if (pages == null) return null;
        code.CopyTo(new Span<byte>(pages, code.Length));
        if (!Pages.Protect(pages, size, Pages.Read | Pages.Execute))
        {
            Pages.Unmap(pages, size);
            return null;
        }
        return pages;
    }
}
