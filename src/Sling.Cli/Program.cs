using Microsoft.Win32.SafeHandles;

namespace Sling.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        // Numbers print the same everywhere (e.g. "12.5 tok/s"), whatever the machine's locale.
        System.Globalization.CultureInfo.DefaultThreadCurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        // Redirected output goes through a plain file stream on descriptor 1: unlike Console.Out, which
        // drops writes to a closed pipe silently, it reports EPIPE, so `sling run … | head` stops generating.
        // Only for a pipe: on a regular file a FileStream writes at its own offset and would overwrite
        // what stderr wrote into the same file (`> log 2>&1`).
        using var stdout = Console.IsOutputRedirected && OperatingSystem.IsLinux() ? PipeWriter() : null;
        int code = SlingCommandLine.Run(args, stdout ?? Console.Out, Console.Error);
        try
        {
            stdout?.Flush();
        }
        catch (IOException)
        {
            // the reader is gone; nothing left to say
        }
        return code;
    }

    private static StreamWriter? PipeWriter()
    {
        var stream = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, 1);
        if (stream.CanSeek)
        {
            stream.Dispose();
            return null;
        }
        return new StreamWriter(stream, new System.Text.UTF8Encoding(false));
    }
}
