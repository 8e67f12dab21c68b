using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Hosting;

public sealed class PaginationTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task PagingWhileCreating_NeverDuplicatesOrSkipsOlderItems()
    {
        var user = await server.RegisterUserAsync();
        var original = new List<string>();
        for (var i = 0; i < 60; i++) original.Add((await server.CreateProjectAsync(user.Token, $"page-{i:D2}"))["id"]!.GetValue<string>());

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        var created = 0;
        do
        {
            var url = "/api/v1/projects?limit=7" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var page = (await server.GetAsync(url, user.Token)).AssertStatus(200).Json;
            var data = page["data"]!.AsArray();
            Assert.True(data.Count <= 7);
            seen.AddRange(data.Select(p => p!["id"]!.GetValue<string>()));
            cursor = page["next_cursor"]?.GetValue<string>();
            // New items arrive between pages; they are newer than every cursor, so they must not disturb the walk.
            await server.CreateProjectAsync(user.Token, $"late-{created++}");
            pages++;
        }
        while (cursor is not null && pages < 50);

        Assert.Null(cursor);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.All(original, id => Assert.Contains(id, seen));
        Assert.Equal(seen.OrderByDescending(id => id, StringComparer.Ordinal), seen);
        Assert.Equal(9, pages);
    }

    [Fact]
    public async Task DefaultPage_Is25_NewestFirst()
    {
        var user = await server.RegisterUserAsync();
        var ids = new List<string>();
        for (var i = 0; i < 27; i++) ids.Add((await server.CreateProjectAsync(user.Token, $"dflt-{i:D2}"))["id"]!.GetValue<string>());
        var page = (await server.GetAsync("/api/v1/projects", user.Token)).AssertStatus(200).Json;
        Assert.Equal(25, page["data"]!.AsArray().Count);
        Assert.Equal(ids[^1], page["data"]![0]!["id"]!.GetValue<string>());
        Assert.NotNull(page["next_cursor"]);
    }
}
