namespace Slipway.Server.Domains;

internal static class DomainEndpoints
{
    public static IEndpointRouteBuilder MapDomainEndpoints(this IEndpointRouteBuilder app) => app;
}
