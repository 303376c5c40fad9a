using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace Distributed.Deploy.Tests;

// deploy/k8s, checked strictly against the Kubernetes object model, and the invariants a working deployment needs.
public class ManifestTests
{
    static readonly string Root = Path.Combine(RepositoryRoot(), "deploy", "k8s");

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
        Assert.Equal(ManifestFiles().Select(f => Path.GetRelativePath(Root, f)).Where(f => !f.EndsWith("storage-secret.yaml", StringComparison.Ordinal)).Order(),
            listed.Order());
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
        var secret = Base().OfType<V1Secret>().Single();
        Assert.Equal(secret.Metadata.Name, container.EnvFrom.Single(e => e.SecretRef is not null).SecretRef.Name);
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
        var gateway = all.OfType<V1Service>().Single();
        Assert.Equal("ClusterIP", gateway.Spec.Type);
        Assert.All(gateway.Spec.Selector, l => Assert.Equal(l.Value, podLabels[l.Key]));
        Assert.Contains(silo.Spec.Template.Spec.Containers[0].Ports, p => p.Name == gateway.Spec.Ports.Single().TargetPort.Value);
        var hpa = all.OfType<V2HorizontalPodAutoscaler>().Single();
        Assert.Equal(("Deployment", silo.Metadata.Name), (hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name));
        Assert.True(hpa.Spec.MinReplicas >= 2);
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

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Distributed.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
