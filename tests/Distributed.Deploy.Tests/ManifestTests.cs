using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace Distributed.Deploy.Tests;

// deploy/k8s, checked strictly against the Kubernetes object model, and the invariants a working deployment needs.
public class ManifestTests
{
    static readonly string Root = Path.Combine(Repository.Root, "deploy", "k8s");

    static IEnumerable<string> ManifestFiles() => Directory.EnumerateFiles(Root, "*.yaml", SearchOption.AllDirectories)
        .Where(f => Path.GetFileName(f) != "kustomization.yaml").Order();

    public static TheoryData<string> Files => new(ManifestFiles().Select(f => Path.GetRelativePath(Root, f)));

    static List<object> Load(string relative) => KubernetesYaml.LoadAllFromString(File.ReadAllText(Path.Combine(Root, relative)), strict: true);

    static List<object> Base() => Kustomization("base").SelectMany(Load).ToList();

    static IEnumerable<string> Kustomization(string folder)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(Path.Combine(Root, folder, "kustomization.yaml"))));
        var map = (YamlMappingNode)yaml.Documents[0].RootNode;
        foreach (var item in ((YamlSequenceNode)map.Children[new YamlScalarNode("resources")]).Children.Cast<YamlScalarNode>())
        {
            var path = Path.Combine(folder, item.Value!);
            if (Directory.Exists(Path.Combine(Root, path))) foreach (var inner in Kustomization(path)) yield return inner;
            else yield return Path.GetRelativePath(Root, Path.GetFullPath(Path.Combine(Root, path)));
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_manifest_loads_strictly(string file)
    {
        var objects = Load(file);
        Assert.NotEmpty(objects);
        Assert.All(objects, o => Assert.IsAssignableFrom<IKubernetesObject>(o));
    }

    [Fact]
    public void A_misspelled_field_is_caught()
    {
        var bad = File.ReadAllText(Path.Combine(Root, "base", "silo.yaml")).Replace("containerPort: 30000", "containerPrt: 30000");
        Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(bad, strict: true));
    }

    [Fact]
    public void The_kustomizations_list_files_that_exist_and_cover_every_manifest()
    {
        var listed = Kustomization("overlays/dev").ToList();
        Assert.All(listed, f => Assert.True(File.Exists(Path.Combine(Root, f)), $"{f} is listed but missing"));
        Assert.Equal(ManifestFiles().Select(f => Path.GetRelativePath(Root, f)).Order(), listed.Order());
    }

    [Fact]
    public void The_silo_deployment_is_probed_limited_unprivileged_and_carries_the_orleans_labels()
    {
        var silo = Base().OfType<V1Deployment>().Single();
        var pod = silo.Spec.Template;
        Assert.All(silo.Spec.Selector.MatchLabels, l => Assert.Equal(l.Value, pod.Metadata.Labels[l.Key]));
        Assert.Equal("distributed", pod.Metadata.Labels["orleans/serviceId"]);
        Assert.Equal("distributed", pod.Metadata.Labels["orleans/clusterId"]);
        Assert.True(pod.Spec.SecurityContext.RunAsNonRoot);
        var container = Assert.Single(pod.Spec.Containers);
        Assert.Equal("/ready", container.ReadinessProbe.HttpGet.Path);
        Assert.Equal("/healthz", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("health", container.ReadinessProbe.HttpGet.Port.Value);
        Assert.Contains(container.Ports, p => p.Name == "health" && p.ContainerPort == 8080);
        Assert.NotNull(container.Resources.Requests["cpu"]);
        Assert.NotNull(container.Resources.Limits["memory"]);
        Assert.False(container.SecurityContext.Privileged);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.Contains("ALL", container.SecurityContext.Capabilities.Drop);
        // The pod's IP comes from the downward API: other silos and clients reach it there.
        Assert.Equal("status.podIP", container.Env.Single(e => e.Name == "DISTRIBUTED_ADVERTISED_ADDRESS").ValueFrom.FieldRef.FieldPath);
        // Settings the silo reads, and the storage connection only from the Secret.
        var config = Base().OfType<V1ConfigMap>().Single();
        Assert.Equal(config.Metadata.Name, container.EnvFrom.Single(e => e.ConfigMapRef is not null).ConfigMapRef.Name);
        Assert.Equal("azure", config.Data["DISTRIBUTED_STORAGE"]);
        Assert.Equal("8080", config.Data["DISTRIBUTED_HEALTH_PORT"]);
        // The base ships no Secret (applying it must not overwrite a real one); the dev overlay generates the one named.
        Assert.Empty(Base().OfType<V1Secret>());
        var secret = Rendered("overlays/dev").OfType<V1Secret>().Single(s => s.Metadata.Name == container.EnvFrom.Single(e => e.SecretRef is not null).SecretRef.Name);
        Assert.Contains("DISTRIBUTED_STORAGE_CONNECTION", secret.StringData.Keys);
        Assert.DoesNotContain("DISTRIBUTED_STORAGE_CONNECTION", config.Data.Keys);
    }

    [Fact]
    public void The_silo_may_watch_and_delete_its_own_pods_and_nothing_else()
    {
        var all = Base();
        var pod = all.OfType<V1Deployment>().Single().Spec.Template;
        var account = all.OfType<V1ServiceAccount>().Single();
        Assert.Equal(pod.Spec.ServiceAccountName, account.Metadata.Name);
        // Orleans' Kubernetes hosting reads the API with the pod's token.
        Assert.True(pod.Spec.AutomountServiceAccountToken);
        Assert.NotEqual(false, account.AutomountServiceAccountToken);

        var role = all.OfType<V1Role>().Single();
        var rule = Assert.Single(role.Rules);
        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal(["pods"], rule.Resources);
        Assert.Equal(["delete", "get", "list", "patch", "watch"], rule.Verbs.Order());
        Assert.Null(rule.ResourceNames);
        var binding = all.OfType<V1RoleBinding>().Single();
        Assert.Equal(("Role", role.Metadata.Name), (binding.RoleRef.Kind, binding.RoleRef.Name));
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal(("ServiceAccount", account.Metadata.Name), (subject.Kind, subject.Name));
        Assert.DoesNotContain(ManifestFiles().SelectMany(f => Load(Path.GetRelativePath(Root, f))), o => o is V1ClusterRole or V1ClusterRoleBinding);

        // The pod watch selects silos by the orleans/* labels: they must name the cluster the silo joins.
        var config = all.OfType<V1ConfigMap>().Single();
        Assert.Equal("true", config.Data["DISTRIBUTED_KUBERNETES"]);
        Assert.Equal(config.Data["DISTRIBUTED_SERVICE_ID"], pod.Metadata.Labels["orleans/serviceId"]);
        Assert.Equal(config.Data["DISTRIBUTED_CLUSTER_ID"], pod.Metadata.Labels["orleans/clusterId"]);
        var env = pod.Spec.Containers.Single().Env.ToDictionary(e => e.Name, e => e.ValueFrom?.FieldRef?.FieldPath);
        Assert.Equal(("metadata.name", "metadata.namespace", "status.podIP"), (env["POD_NAME"], env["POD_NAMESPACE"], env["POD_IP"]));
    }

    [Fact]
    public void The_data_directory_is_a_writable_volume()
    {
        // Datasets fetched from Blob storage are cached under the data directory; the root filesystem is read-only.
        var all = Base();
        var pod = all.OfType<V1Deployment>().Single().Spec.Template.Spec;
        var container = pod.Containers.Single();
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        var directory = all.OfType<V1ConfigMap>().Single().Data["DISTRIBUTED_DATA_DIR"];
        var mount = Assert.Single(container.VolumeMounts, m => m.MountPath == directory);
        Assert.NotEqual(true, mount.ReadOnlyProperty);
        Assert.NotNull(pod.Volumes.Single(v => v.Name == mount.Name).EmptyDir);
    }

    [Fact]
    public void Gateway_autoscaler_and_disruption_budget_point_at_the_silos()
    {
        var all = Base();
        var silo = all.OfType<V1Deployment>().Single();
        var podLabels = silo.Spec.Template.Metadata.Labels;
        // The gateway and the dashboard: inside the cluster only, each on a port the silo container names.
        var services = all.OfType<V1Service>().ToList();
        Assert.Equal(["distributed-dashboard", "distributed-gateway"], services.Select(s => s.Metadata.Name).Order().ToArray());
        foreach (var service in services)
        {
            Assert.Equal("ClusterIP", service.Spec.Type);
            Assert.All(service.Spec.Selector, l => Assert.Equal(l.Value, podLabels[l.Key]));
            Assert.Contains(silo.Spec.Template.Spec.Containers[0].Ports, p => p.Name == service.Spec.Ports.Single().TargetPort.Value);
        }
        var hpa = all.OfType<V2HorizontalPodAutoscaler>().Single();
        Assert.Equal(("Deployment", silo.Metadata.Name), (hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name));
        Assert.True(hpa.Spec.MinReplicas >= 2);
        // It scales on the replicas the trials need (the silos' gauge, through the adapter), never on CPU that training saturates.
        var metric = Assert.Single(hpa.Spec.Metrics);
        Assert.Equal("External", metric.Type);
        Assert.Equal("distributed_replicas_demanded", metric.External.Metric.Name);
        Assert.Equal("AverageValue", metric.External.Target.Type);
        Assert.True(hpa.Spec.Behavior.ScaleDown.Policies.All(p => p.Type == "Pods" && p.Value == 1), "scale-in drains one silo at a time");
        var pdb = all.OfType<V1PodDisruptionBudget>().Single();
        Assert.All(pdb.Spec.Selector.MatchLabels, l => Assert.Equal(l.Value, podLabels[l.Key]));
        Assert.Equal(silo.Spec.Template.Spec.ServiceAccountName, all.OfType<V1ServiceAccount>().Single().Metadata.Name);
    }

    [Fact]
    public void Nothing_runs_privileged_or_as_root_anywhere()
    {
        foreach (var deployment in ManifestFiles().SelectMany(f => Load(Path.GetRelativePath(Root, f))).OfType<V1Deployment>())
        {
            var pod = deployment.Spec.Template.Spec;
            Assert.True(pod.SecurityContext?.RunAsNonRoot == true, $"{deployment.Metadata.Name} may run as root");
            Assert.False(pod.HostNetwork == true || pod.HostPID == true);
            Assert.All(pod.Containers, c =>
            {
                Assert.False(c.SecurityContext?.Privileged == true, $"{c.Name} is privileged");
                Assert.False(c.SecurityContext?.AllowPrivilegeEscalation != false, $"{c.Name} may escalate");
                Assert.NotNull(c.ReadinessProbe);
                Assert.NotNull(c.LivenessProbe);
                Assert.NotNull(c.Resources?.Limits);
            });
            Assert.All(deployment.Spec.Selector.MatchLabels, l => Assert.Equal(l.Value, deployment.Spec.Template.Metadata.Labels[l.Key]));
        }
    }

    /// <summary>
    /// What kustomize would apply for a folder, for what these tests check: its resources with the images entries
    /// of every kustomization on the way applied (name to newName@digest), plus the Secrets its generators make.
    /// </summary>
    static List<object> Rendered(string folder)
    {
        var objects = Kustomization(folder).SelectMany(Load).ToList();
        var images = KustomizationChain(folder).SelectMany(k => Sequence(k, "images")).Cast<YamlMappingNode>().ToList();
        foreach (var container in objects.OfType<V1Deployment>().SelectMany(d => d.Spec.Template.Spec.Containers))
            if (images.FirstOrDefault(i => Scalar(i, "name") == container.Image) is { } entry)
                container.Image = (Scalar(entry, "newName") ?? container.Image)
                    + (Scalar(entry, "digest") is { } digest ? "@" + digest : Scalar(entry, "newTag") is { } tag ? ":" + tag : "");
        foreach (var (generator, directory) in KustomizationChain(folder).SelectMany(k => Sequence(k, "secretGenerator").Select(g => ((YamlMappingNode)g, k))))
        {
            // Generators from files (certificates made at deploy time) are named here, their contents not read.
            var data = Sequence(generator, "envs").Cast<YamlScalarNode>()
                .SelectMany(env => File.ReadAllLines(Path.Combine(Root, directory, env.Value!)))
                .Where(line => line.Length > 0 && !line.StartsWith('#'))
                .ToDictionary(line => line[..line.IndexOf('=')], line => line[(line.IndexOf('=') + 1)..]);
            objects.Add(new V1Secret { Metadata = new V1ObjectMeta { Name = Scalar(generator, "name") }, StringData = data });
        }
        return objects;
    }

    static IEnumerable<string> KustomizationChain(string folder)
    {
        yield return folder;
        foreach (var item in Sequence(folder, "resources").Cast<YamlScalarNode>())
        {
            var path = Path.GetRelativePath(Root, Path.GetFullPath(Path.Combine(Root, folder, item.Value!)));
            if (Directory.Exists(Path.Combine(Root, path))) foreach (var inner in KustomizationChain(path)) yield return inner;
        }
    }

    static IEnumerable<YamlNode> Sequence(string folder, string key) => Sequence(KustomizationFile(folder), key);

    static IEnumerable<YamlNode> Sequence(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? ((YamlSequenceNode)node).Children : [];

    static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? ((YamlScalarNode)node).Value : null;

    static YamlMappingNode KustomizationFile(string folder)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(Path.Combine(Root, folder, "kustomization.yaml"))));
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    [Theory]
    [InlineData("base")]
    [InlineData("overlays/dev")]
    public void Every_image_is_pinned_by_digest(string folder)
    {
        var images = Rendered(folder).OfType<V1Deployment>().SelectMany(d => d.Spec.Template.Spec.Containers.Select(c => c.Image)).ToList();
        Assert.NotEmpty(images);
        Assert.All(images, image =>
        {
            Assert.Matches("^[a-z0-9.\\-/]+@sha256:[0-9a-f]{64}$", image);
            Assert.DoesNotContain(":latest", image);
        });
    }

    [Fact]
    public void No_account_key_is_in_the_base_and_the_dev_overlay_holds_only_azurites_public_one()
    {
        var texts = ManifestFiles().Concat(Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".yaml", StringComparison.Ordinal)))
            .Distinct().ToDictionary(f => Path.GetRelativePath(Root, f), File.ReadAllText);
        Assert.All(texts.Where(t => t.Key.StartsWith("base", StringComparison.Ordinal)), t => Assert.DoesNotContain("AccountKey", t.Value));
        Assert.DoesNotContain(Rendered("base"), o => o is V1Secret);
        foreach (var secret in Rendered("overlays/dev").OfType<V1Secret>())
            Assert.All(secret.StringData.Values.Where(v => v.Contains("AccountKey", StringComparison.Ordinal)),
                v => Assert.Contains("AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;", v));
    }

    [Fact]
    public void The_namespace_enforces_the_restricted_pod_security_standard_and_every_pod_meets_it()
    {
        var ns = Base().OfType<V1Namespace>().Single();
        Assert.Equal("restricted", ns.Metadata.Labels["pod-security.kubernetes.io/enforce"]);
        foreach (var deployment in Rendered("overlays/dev").OfType<V1Deployment>())
        {
            var pod = deployment.Spec.Template.Spec;
            string name = deployment.Metadata.Name;
            Assert.True(pod.SecurityContext.RunAsNonRoot, $"{name}: runAsNonRoot");
            Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile?.Type);
            Assert.All(pod.Containers, c =>
            {
                Assert.False(c.SecurityContext.AllowPrivilegeEscalation, $"{name}/{c.Name}: allowPrivilegeEscalation");
                Assert.Equal(["ALL"], c.SecurityContext.Capabilities.Drop);
                Assert.Null(c.SecurityContext.Capabilities.Add);
                Assert.Null(c.Ports?.FirstOrDefault(p => p.HostPort is not null));
            });
            // Restricted admits only these volume types.
            Assert.All(pod.Volumes ?? [], v => Assert.True(v.EmptyDir is not null || v.ConfigMap is not null || v.Secret is not null
                || v.Projected is not null || v.PersistentVolumeClaim is not null || v.DownwardAPI is not null, $"{name}: volume {v.Name}"));
            // Every scratch volume is bounded: a full node disk would evict every pod on it.
            Assert.All(pod.Volumes ?? [], v => Assert.True(v.EmptyDir is null || v.EmptyDir.SizeLimit is not null, $"{name}: emptyDir {v.Name} has no size limit"));
        }
    }

    [Fact]
    public void The_network_policy_admits_silo_ports_from_silos_the_gateway_and_dashboard_from_clients_metrics_from_monitoring_and_no_one_to_the_health_port()
    {
        var all = Base();
        var silo = all.OfType<V1Deployment>().Single();
        var podLabels = silo.Spec.Template.Metadata.Labels;
        var policy = all.OfType<V1NetworkPolicy>().Single();
        Assert.All(policy.Spec.PodSelector.MatchLabels, l => Assert.Equal(l.Value, podLabels[l.Key]));
        Assert.Equal(["Ingress"], policy.Spec.PolicyTypes);
        var ports = silo.Spec.Template.Spec.Containers.Single().Ports.Select(p => p.Name).ToHashSet();
        var admitted = policy.Spec.Ingress.SelectMany(rule => rule.Ports.Select(p => (Port: p.Port.Value, From: rule.FromProperty))).ToList();
        Assert.All(admitted, a => Assert.Contains(a.Port, ports));
        Assert.DoesNotContain(admitted, a => a.Port == "health");
        bool FromSilos(IList<V1NetworkPolicyPeer> from) => from.Single().PodSelector.MatchLabels.All(l => podLabels.TryGetValue(l.Key, out var v) && v == l.Value)
            && from.Single().NamespaceSelector is null && from.Single().IpBlock is null;
        Assert.True(FromSilos(admitted.Single(a => a.Port == "silo").From));
        Assert.True(FromSilos(admitted.Single(a => a.Port == "gradients").From));
        // The gateway and the dashboard: client pods of this namespace only (the dashboard also asks for a client certificate).
        foreach (var port in new[] { "gateway", "dashboard" })
        {
            var clients = admitted.Single(a => a.Port == port).From.Single();
            Assert.Equal("true", clients.PodSelector.MatchLabels["distributed/client"]);
            Assert.Null(clients.NamespaceSelector);
        }
        var dashboardPort = silo.Spec.Template.Spec.Containers.Single().Ports.Single(p => p.Name == "dashboard").ContainerPort.ToString();
        Assert.Equal(dashboardPort, all.OfType<V1ConfigMap>().Single().Data["DISTRIBUTED_DASHBOARD_PORT"]);
        Assert.Contains(all.OfType<V1Service>(), s => s.Spec.Ports.Any(p => p.TargetPort.Value == "dashboard"));
        // /metrics: the monitoring namespace's Prometheus only, on the port the ConfigMap and the annotations name.
        var scraper = admitted.Single(a => a.Port == "metrics").From.Single();
        Assert.Equal("monitoring", scraper.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);
        Assert.Null(scraper.PodSelector);
        var metricsPort = silo.Spec.Template.Spec.Containers.Single().Ports.Single(p => p.Name == "metrics").ContainerPort.ToString();
        Assert.Equal(metricsPort, all.OfType<V1ConfigMap>().Single().Data["DISTRIBUTED_METRICS_PORT"]);
        Assert.Equal(metricsPort, silo.Spec.Template.Metadata.Annotations["prometheus.io/port"]);
    }

    [Fact]
    public void Silos_mount_their_tls_secret_and_require_it()
    {
        var all = Base();
        var pod = all.OfType<V1Deployment>().Single().Spec.Template.Spec;
        var directory = all.OfType<V1ConfigMap>().Single().Data["DISTRIBUTED_TLS"];
        var mount = Assert.Single(pod.Containers.Single().VolumeMounts, m => m.MountPath == directory);
        Assert.True(mount.ReadOnlyProperty);
        var secret = pod.Volumes.Single(v => v.Name == mount.Name).Secret;
        Assert.Equal("distributed-silo-tls", secret.SecretName);
        // The dev overlay generates the same Secret from the development CA's files, with cert-manager's key names.
        var generated = Sequence("overlays/dev", "secretGenerator").Cast<YamlMappingNode>().Single(g => Scalar(g, "name") == secret.SecretName);
        Assert.Equal(["ca.crt", "tls.crt", "tls.key"], Sequence(generated, "files").Cast<YamlScalarNode>().Select(f => f.Value!.Split('=')[0]).Order());
    }

    [Fact]
    public void A_stopping_silo_has_longer_than_its_drain_before_it_is_killed()
    {
        // Each worker's drain checkpoint is waited for up to 30 s (WorkerGrain), then Orleans hands over the silo's grains.
        var pod = Base().OfType<V1Deployment>().Single().Spec.Template.Spec;
        Assert.True(pod.TerminationGracePeriodSeconds >= 90, $"terminationGracePeriodSeconds {pod.TerminationGracePeriodSeconds}");
    }
}
