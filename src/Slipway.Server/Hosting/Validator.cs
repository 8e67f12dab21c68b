namespace Slipway.Server.Hosting;

/// <summary>Collects every field problem of one request, then fails once with all of them.</summary>
internal sealed class Validator
{
    private readonly List<FieldError> errors = [];

    public bool IsValid => errors.Count == 0;

    public Validator Check(bool ok, string field, string message)
    {
        if (!ok && errors.All(e => e.Field != field)) errors.Add(new FieldError(field, message));
        return this;
    }

    public Validator Required(object? value, string field) =>
        Check(value is not null && (value is not string s || s.Length > 0), field, "is required");

    public Validator MaxLength(string? value, int max, string field) =>
        Check(value is null || value.Length <= max, field, $"must be at most {max} characters");

    public void ThrowIfInvalid()
    {
        if (errors.Count > 0) throw ApiException.Validation(errors);
    }

    /// <summary>Control characters have no business in names, URLs or commands sent to this API.</summary>
    public static bool HasControlChars(string value) => value.Any(char.IsControl);
}
