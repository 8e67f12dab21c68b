using Microsoft.Data.Sqlite;
using Npgsql;
using Slipway.Server.Hosting;

namespace Slipway.Server.Data;

internal static class DbExtensions
{
    /// <summary>Saves; a unique-constraint violation (a race the pre-check lost) becomes 409 instead of 500.</summary>
    public static async Task SaveUniqueAsync(this DbContext db, string conflictMessage, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (IsUniqueViolation(ex))
        {
            throw ApiException.Conflict(conflictMessage);
        }
    }

    public static bool IsUniqueViolation(Exception ex) => ex.InnerException switch
    {
        SqliteException s => s.SqliteErrorCode == 19 && s.SqliteExtendedErrorCode is 2067 or 1555,
        PostgresException p => p.SqlState == PostgresErrorCodes.UniqueViolation,
        _ => false,
    };
}
