namespace Sling.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        // Numbers print the same everywhere (e.g. "12.5 tok/s"), whatever the machine's locale.
        System.Globalization.CultureInfo.DefaultThreadCurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        return SlingCommandLine.Run(args, Console.Out, Console.Error);
    }
}
