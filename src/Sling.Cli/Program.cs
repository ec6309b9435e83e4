namespace Sling.Cli;

public static class Program
{
    public static int Main(string[] args) => SlingCommandLine.Run(args, Console.Out, Console.Error);
}
