namespace Slipway.Cli;

internal static class Program
{
    public static Task<int> Main(string[] args) => Commands.Root().Parse(args).InvokeAsync();
}
