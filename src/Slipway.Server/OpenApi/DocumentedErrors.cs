namespace Slipway.Server.OpenApi;

/// <summary>
/// Endpoint metadata: error statuses an operation can return beyond the ones derived from its shape
/// (e.g. 401 from an anonymous login, 409 from deleting something that must stay). Documented with the Error schema.
/// </summary>
internal sealed record DocumentedErrors(IReadOnlyList<int> Statuses);

internal static class DocumentedErrorConventions
{
    public static TBuilder ProducesErrors<TBuilder>(this TBuilder builder, params int[] statuses) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DocumentedErrors(statuses));
}
