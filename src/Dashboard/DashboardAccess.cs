using System.Security.Cryptography;
using System.Text;
using Distributed.Grains.Abstractions;
using Microsoft.AspNetCore.Http;

namespace Distributed.Dashboard;

/// <summary>How the dashboard learns who is asking, with the role the cluster's access rules give them (docs/security.md); null refuses the request.</summary>
public interface IDashboardAccess
{
    Caller? Caller(HttpContext context);
}

/// <summary>
/// `distributed dashboard`: the page runs as the user's own cluster client (their certificate's role), on loopback,
/// and only a browser holding the token the command printed gets in: another local user cannot, a page of another
/// site cannot (the cookie is SameSite=Strict), as with a Jupyter server.
/// </summary>
public sealed class TokenAccess(Caller caller) : IDashboardAccess
{
    public const string Cookie = "distributed-dashboard";
    public string Token { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();

    public Caller? Caller(HttpContext context)
    {
        var offered = context.Request.Cookies[Cookie] ?? context.Request.Query["token"].FirstOrDefault();
        if (offered is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(offered), Encoding.ASCII.GetBytes(Token))) return null;
        if (context.Request.Cookies[Cookie] is null)
            context.Response.Cookies.Append(Cookie, Token, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
        return caller;
    }
}

/// <summary>A silo's dashboard: the role of the client certificate the TLS handshake accepted (the same CA and OUs as the gateway).</summary>
public sealed class CertificateAccess(Func<System.Security.Cryptography.X509Certificates.X509Certificate2, Caller?> callerOf) : IDashboardAccess
{
    public Caller? Caller(HttpContext context) =>
        context.Connection.ClientCertificate is { } certificate ? callerOf(certificate) : null;
}

/// <summary>A silo without TLS: as its gateway, anyone who reaches it is an operator, so it listens on loopback only.</summary>
public sealed class LoopbackAccess : IDashboardAccess
{
    public Caller? Caller(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address && System.Net.IPAddress.IsLoopback(address) ? Grains.Abstractions.Caller.Anonymous : null;
}
