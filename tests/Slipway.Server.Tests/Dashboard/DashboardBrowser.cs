using Microsoft.Playwright;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Dashboard;

/// <summary>
/// One Slipway server and one headless Debian Chromium (Playwright, never a downloaded browser) shared by a test class.
/// Every test signs in its own user in its own browser context.
/// </summary>
public sealed class DashboardBrowser : IAsyncLifetime
{
    public const string Chromium = "/usr/bin/chromium";
    private IPlaywright playwright = null!;

    public SlipwayServer Server { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"], Timeout = 30_000,
        });
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        playwright.Dispose();
        await Server.DisposeAsync();
    }

    /// <summary>A fresh browser context (its own cookies) at the given width, signed in as the user.</summary>
    public async Task<IPage> SignedInPageAsync(TestUser user, int width = 1280)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Server.BaseAddress.ToString().TrimEnd('/'), ViewportSize = new ViewportSize { Width = width, Height = 900 },
        });
        // Generous: the suite runs browser tests beside builds on two cores.
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/login");
        await page.GetByLabel("Email").FillAsync(user.Email);
        await page.GetByLabel("Password").FillAsync(user.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        try
        {
            await page.WaitForURLAsync(Server.BaseAddress.ToString());
        }
        catch (TimeoutException e)
        {
            // Still on the sign-in page: say what it shows (an error message, or nothing yet).
            throw new TimeoutException($"Sign-in did not reach the projects page; at {page.Url}: {await page.Locator("main").InnerTextAsync()}", e);
        }
        return page;
    }

    /// <summary>Runs a browser test; on failure the page's screenshot and HTML are saved under TestResults/dashboard/.</summary>
    public static async Task WithScreenshotOnFailureAsync(IPage page, string name, Func<Task> test)
    {
        try
        {
            await test();
        }
        catch
        {
            var directory = Path.Combine(Directory.GetCurrentDirectory(), "TestResults", "dashboard");
            Directory.CreateDirectory(directory);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(directory, name + ".png"), FullPage = true });
            await File.WriteAllTextAsync(Path.Combine(directory, name + ".html"), await page.ContentAsync());
            throw;
        }
        finally
        {
            await page.Context.CloseAsync();
        }
    }
}
