using Azure;
using Azure.Core;
using Azure.Data.Tables;
using Azure.Storage.Blobs;

namespace Distributed.Silo;

/// <summary>
/// Asks the Table and Blob endpoints of a connection string one cheap question each before anything starts, so a
/// wrong key, account or endpoint is reported as the setting it is rather than as a failed membership table.
/// </summary>
public static class StorageCheck
{
    public const string NotAConnectionString = "is not an Azure Storage connection string (AccountName=...;AccountKey=...;... or UseDevelopmentStorage=true)";

    /// <summary>True when the Azure SDK accepts <paramref name="connection"/> as a connection string (nothing is called).</summary>
    public static bool Parses(string connection)
    {
        try
        {
            _ = new BlobServiceClient(connection);
            _ = new TableServiceClient(connection);
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>What is wrong with reaching storage through <paramref name="connection"/>, or null when both services answer.</summary>
    public static Task<string?> ProblemAsync(string connection, TimeSpan timeout) =>
        Parses(connection) ? ProblemAsync(StorageAccount.FromConnectionString(connection), timeout) : Task.FromResult<string?>(NotAConnectionString);

    /// <summary>What is wrong with reaching <paramref name="account"/>, or null when both services answer.</summary>
    public static async Task<string?> ProblemAsync(StorageAccount account, TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        var retry = (RetryOptions r) => { r.MaxRetries = 2; r.Delay = TimeSpan.FromMilliseconds(200); r.NetworkTimeout = timeout; };
        var tableOptions = new TableClientOptions();
        retry(tableOptions.Retry);
        var blobOptions = new BlobClientOptions();
        retry(blobOptions.Retry);
        var tables = account.Tables(tableOptions);
        var blobs = account.Blobs(blobOptions);
        var refusal = account.UsesIdentity ? "this process's Azure identity (does it hold a data role on the account?)" : "the account name or key";
        return await AskAsync("Table", tables.Uri, refusal, async c => { await foreach (var _ in tables.QueryAsync(maxPerPage: 1, cancellationToken: c).AsPages()) break; }, cancellation)
            ?? await AskAsync("Blob", blobs.Uri, refusal, async c => { await foreach (var _ in blobs.GetBlobContainersAsync(cancellationToken: c).AsPages(pageSizeHint: 1)) break; }, cancellation);
    }

    static async Task<string?> AskAsync(string service, Uri endpoint, string refusal, Func<CancellationToken, Task> ask, CancellationTokenSource cancellation)
    {
        try
        {
            await ask(cancellation.Token);
            return null;
        }
        catch (RequestFailedException e) when (e.Status is 401 or 403)
        {
            return $"the {service} endpoint {endpoint} refused {refusal} ({Status(e)})";
        }
        catch (RequestFailedException e)
        {
            return $"the {service} endpoint {endpoint} answered {Status(e)}";
        }
        catch (Azure.Identity.AuthenticationFailedException e)
        {
            return $"no Azure identity for the {service} endpoint {endpoint}: {e.Message.Split('\n')[0]}";
        }
        catch (Exception e) when (e is OperationCanceledException || cancellation.IsCancellationRequested)
        {
            return $"the {service} endpoint {endpoint} did not answer in time";
        }
        catch (Exception e)
        {
            // The retry policy wraps each attempt's failure; the last one says what happened.
            var cause = e is AggregateException many ? many.InnerExceptions[^1].GetBaseException() : e.GetBaseException();
            return $"the {service} endpoint {endpoint} could not be reached: {cause.Message}";
        }
    }

    static string Status(RequestFailedException e) => string.IsNullOrEmpty(e.ErrorCode) ? $"{e.Status}" : $"{e.Status} {e.ErrorCode}";
}
