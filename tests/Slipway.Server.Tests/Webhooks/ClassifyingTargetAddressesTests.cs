using System.Net;
using Slipway.Server.Webhooks;

namespace Slipway.Server.Tests.Webhooks;

/// <summary>The SSRF classifier: IPv6 forms that carry an IPv4 address are judged by the IPv4 address they reach.</summary>
public sealed class ClassifyingTargetAddressesTests
{
    private static readonly TargetGuard Strict = new(new WebhookOptions());

    [Theory]
    [InlineData("http://[::127.0.0.1]/", "loopback")]
    [InlineData("http://[::ffff:127.0.0.1]/", "loopback")]
    [InlineData("http://[::ffff:0:127.0.0.1]/", "loopback")]
    [InlineData("http://[64:ff9b::127.0.0.1]/", "loopback")]
    [InlineData("http://[64:ff9b::a9fe:a9fe]/", "metadata")]
    [InlineData("http://[::a9fe:a9fe]/", "metadata")]
    [InlineData("http://[::10.0.0.1]/", "private")]
    [InlineData("http://[2002:7f00:1::]/", "loopback")]
    [InlineData("http://[2002:a9fe:a9fe::]/", "metadata")]
    [InlineData("http://[64:ff9b:1::a9fe:a9fe]/", "metadata")]
    [InlineData("http://[64:ff9b:1:a9fe:a9:fe00::]/", "metadata")]
    [InlineData("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "loopback")]
    [InlineData("http://[::1]/", "loopback")]
    [InlineData("http://[::]/", "unspecified")]
    [InlineData("http://[fe80::1]/", "link-local")]
    [InlineData("http://[fd00::1]/", "private")]
    [InlineData("http://[fc00::1]/", "private")]
    [InlineData("http://[ff02::1]/", "multicast")]
    public void Problem_IPv6FormOfAForbiddenAddress_IsRefused(string url, string reason)
    {
        var problem = Strict.Problem(url);

        Assert.NotNull(problem);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("::127.0.0.1")]
    [InlineData("::ffff:0:127.0.0.1")]
    [InlineData("64:ff9b::127.0.0.1")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    [InlineData("::a9fe:a9fe")]
    [InlineData("::10.0.0.1")]
    [InlineData("2002:7f00:1::")]
    [InlineData("2002:a9fe:a9fe::")]
    [InlineData("64:ff9b:1::a9fe:a9fe")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("fe80::1")]
    public void Refusal_AddressConnectedTo_IsRefused(string address) => Assert.NotNull(Strict.Refusal(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://[2606:4700:4700::1111]/")]
    [InlineData("http://[64:ff9b::808:808]/")]
    [InlineData("http://[::ffff:8.8.8.8]/")]
    [InlineData("http://[2002:808:808::1]/")]
    [InlineData("http://8.8.8.8/")]
    public void Problem_PublicAddressInAnyForm_IsAccepted(string url) => Assert.Null(Strict.Problem(url));

    [Theory]
    [InlineData("http://[::1]/")]
    [InlineData("http://[::ffff:127.0.0.1]/")]
    [InlineData("http://[64:ff9b::127.0.0.1]/")]
    [InlineData("http://[2002:7f00:1::]/")]
    public void Problem_LoopbackInAnyForm_IsAcceptedWhenLoopbackIsAllowed(string url) =>
        Assert.Null(new TargetGuard(new WebhookOptions { AllowLoopback = true }).Problem(url));

    [Fact]
    public void Problem_EmbeddedPrivateAddress_IsAcceptedOnlyWhenPrivateNetworksAreAllowed()
    {
        Assert.Null(new TargetGuard(new WebhookOptions { AllowPrivateNetworks = true }).Problem("http://[::10.0.0.1]/"));
        Assert.NotNull(new TargetGuard(new WebhookOptions { AllowPrivateNetworks = true }).Problem("http://[64:ff9b::a9fe:a9fe]/"));
    }
}
