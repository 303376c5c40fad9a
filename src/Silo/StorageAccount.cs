using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;

namespace Distributed.Silo;

/// <summary>
/// How a silo or client reaches its Azure Storage account: a connection string (Azurite, development), or the
/// account's endpoints with the process's Azure identity (workload or managed identity in production: no key).
/// </summary>
public sealed class StorageAccount
{
    readonly string? connection;
    readonly Uri? blob, table;
    readonly TokenCredential? credential;

    StorageAccount(string? connection, Uri? blob, Uri? table, TokenCredential? credential) =>
        (this.connection, this.blob, this.table, this.credential) = (connection, blob, table, credential);

    public static StorageAccount FromConnectionString(string connection) => new(connection, null, null, null);

    /// <summary>The endpoints with <see cref="DefaultAzureCredential"/>: workload identity, managed identity, or a developer's login.</summary>
    public static StorageAccount FromIdentity(Uri blob, Uri table, TokenCredential? credential = null) =>
        new(null, blob, table, credential ?? new DefaultAzureCredential());

    /// <summary>True when the account is reached with an identity rather than a key.</summary>
    public bool UsesIdentity => credential is not null;

    public static bool IsEndpoint(string? text) => Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps;

    public TableServiceClient Tables(TableClientOptions? options = null) =>
        connection is not null ? new TableServiceClient(connection, options) : new TableServiceClient(table!, credential!, options);

    public BlobServiceClient Blobs(BlobClientOptions? options = null) =>
        connection is not null ? new BlobServiceClient(connection, options) : new BlobServiceClient(blob!, credential!, options);
}
