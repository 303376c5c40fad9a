using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Distributed.Grains.Abstractions;
using Orleans.Connections.Security;

namespace Distributed.Grains.Access;

/// <summary>
/// A node's certificate and the cluster's CA, from a directory laid out as cert-manager writes a Secret (tls.crt,
/// tls.key, ca.crt). A peer is accepted only with a certificate the pinned CA issued, whose subject's OU says what
/// it is: "silo" on the silo port, "reader" or "operator" on the gateway, and a client accepts only "silo".
/// </summary>
public sealed class ClusterCertificates
{
    public const string CertificateFile = "tls.crt", KeyFile = "tls.key", AuthorityFile = "ca.crt";
    public const string SiloUnit = "silo";
    static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1"), ClientAuth = new("1.3.6.1.5.5.7.3.2");

    ClusterCertificates(X509Certificate2 certificate, X509Certificate2Collection authorities) => (Certificate, Authorities) = (certificate, authorities);

    public X509Certificate2 Certificate { get; }
    /// <summary>Every CA in ca.crt: two while the CA is rotated (docs/security.md).</summary>
    public X509Certificate2Collection Authorities { get; }

    /// <summary>Reads a certificate directory; an <see cref="ArgumentException"/> names the file that is missing or wrong.</summary>
    public static ClusterCertificates Load(string directory)
    {
        string File(string name) => System.IO.File.Exists(Path.Combine(directory, name))
            ? Path.Combine(directory, name)
            : throw new ArgumentException($"{Path.Combine(directory, name)}: no such file (a certificate directory holds {CertificateFile}, {KeyFile} and {AuthorityFile})");
        string certificate = File(CertificateFile), key = File(KeyFile), authority = File(AuthorityFile);
        try
        {
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPemFile(authority);
            if (authorities.Count == 0) throw new ArgumentException($"{authority}: holds no certificate");
            var own = X509Certificate2.CreateFromPemFile(certificate, key);
            var loaded = new ClusterCertificates(own, authorities);
            if (!loaded.IssuedByAuthority(own))
                throw new ArgumentException($"{certificate}: not issued by a CA in {authority}, or expired");
            return loaded;
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"{directory}: {e.Message}");
        }
    }

    /// <summary>The caller a client certificate makes, or null when its OU names no client role.</summary>
    public static Caller? CallerOf(X509Certificate2 certificate) => Unit(certificate) switch
    {
        "operator" => new Caller(certificate.Subject, ClientRole.Operator),
        "reader" => new Caller(certificate.Subject, ClientRole.Reader),
        _ => null,
    };

    static string? Unit(X509Certificate2 certificate) =>
        certificate.SubjectName.EnumerateRelativeDistinguishedNames().FirstOrDefault(n => n.GetSingleElementType().Value == "2.5.4.11")?.GetSingleElementValue();

    bool IssuedByAuthority(X509Certificate2 certificate, Oid? usage = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(Authorities);
        // A private CA publishes no revocation lists: a certificate is withdrawn by replacing the CA (docs/security.md).
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (usage is not null) chain.ChainPolicy.ApplicationPolicy.Add(usage);
        return chain.Build(certificate);
    }

    /// <summary>Host names are not checked (pods come and go by IP): the pinned CA and the OU are.</summary>
    RemoteCertificateValidator Accepting(Oid usage, Func<X509Certificate2, bool> kind) =>
        (certificate, _, _) => IssuedByAuthority(certificate, usage) && kind(certificate);

    /// <summary>A client's certificate of this CA (reader or operator): whom the gateway and a silo's dashboard admit.</summary>
    public bool AcceptsClient(X509Certificate2 certificate) => IssuedByAuthority(certificate, ClientAuth) && CallerOf(certificate) is not null;

    public static bool IsSilo(X509Certificate2 certificate) => Unit(certificate) == SiloUnit;

    /// <summary>Silo to silo, both ways: only silo certificates of this CA.</summary>
    public TlsOptions BetweenSilos() => new()
    {
        LocalCertificate = Certificate,
        RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
        ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
        RemoteCertificateValidation = (certificate, chain, errors) =>
            Accepting(ServerAuth, IsSilo)(certificate, chain, errors) && IssuedByAuthority(certificate, ClientAuth),
    };

    /// <summary>The gateway: only client certificates of this CA (reader or operator).</summary>
    public TlsOptions ForGateway() => new()
    {
        LocalCertificate = Certificate,
        RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
        RemoteCertificateValidation = (certificate, _, _) => AcceptsClient(certificate),
    };

    /// <summary>A client: presents its certificate and accepts only silos of this CA.</summary>
    public TlsOptions ForClient() => new()
    {
        LocalCertificate = Certificate,
        ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
        RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
        RemoteCertificateValidation = Accepting(ServerAuth, IsSilo),
    };
}
