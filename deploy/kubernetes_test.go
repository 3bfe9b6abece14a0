package deploy_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/passerelle-dev/passerelle/workers/accounts"
)

// The checks of this file decode every file of deploy/kubernetes strictly (an
// unknown or misspelt field is an error, as it is not for kubectl with a lenient
// server) and hold the manifests to each other and to the code.

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) that the manifests may use; decoding strictly into it
// rejects any other field. Extend it, from the CRD's schema, to use one more.
type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port,omitempty"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
			HonorLabels   bool   `json:"honorLabels,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// scaledObject is the part of KEDA's ScaledObject (keda.sh/v1alpha1) that the
// manifests may use, strictly: extend it from the CRD's schema to use one more field.
type scaledObject struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion,omitempty"`
			Kind       string `json:"kind,omitempty"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval  *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod   *int32 `json:"cooldownPeriod,omitempty"`
		IdleReplicaCount *int32 `json:"idleReplicaCount,omitempty"`
		MinReplicaCount  *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount  *int32 `json:"maxReplicaCount,omitempty"`
		Advanced         *struct {
			RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`
			HorizontalPodAutoscalerConfig *struct {
				Name     string                                         `json:"name,omitempty"`
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
			} `json:"horizontalPodAutoscalerConfig,omitempty"`
		} `json:"advanced,omitempty"`
		Triggers []struct {
			Type              string            `json:"type"`
			Name              string            `json:"name,omitempty"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
				Kind string `json:"kind,omitempty"`
			} `json:"authenticationRef,omitempty"`
		} `json:"triggers"`
	} `json:"spec"`
}

// natsJetStreamMetadata are the metadata KEDA's nats-jetstream scaler reads, and
// whether each is required.
func natsJetStreamMetadata() map[string]bool {
	return map[string]bool{
		"natsServerMonitoringEndpoint": true, "account": true, "stream": true, "consumer": true,
		"lagThreshold": false, "activationLagThreshold": false, "useHttps": false,
	}
}

// kustomization is the part of a kustomize Kustomization the directory may use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// natsValues is the part of the values of the NATS Helm chart (nats-io/k8s, chart
// "nats" v1.x) that nats-values.yaml may set, with the chart's key names: decoding
// strictly into it catches a misspelt key, which Helm would silently ignore.
type natsValues struct {
	FullnameOverride string `json:"fullnameOverride"`
	Config           struct {
		Cluster struct {
			Enabled  bool `json:"enabled"`
			Replicas int  `json:"replicas"`
		} `json:"cluster"`
		JetStream struct {
			Enabled   bool `json:"enabled"`
			FileStore struct {
				Enabled bool   `json:"enabled"`
				Dir     string `json:"dir"`
				PVC     struct {
					Enabled          bool    `json:"enabled"`
					Size             string  `json:"size"`
					StorageClassName *string `json:"storageClassName"`
				} `json:"pvc"`
				MaxSize string `json:"maxSize,omitempty"`
			} `json:"fileStore"`
			MemoryStore struct {
				Enabled bool   `json:"enabled"`
				MaxSize string `json:"maxSize,omitempty"`
			} `json:"memoryStore"`
			Merge map[string]any `json:"merge"`
		} `json:"jetstream"`
		Monitor struct {
			Enabled bool `json:"enabled"`
			Port    int  `json:"port"`
		} `json:"monitor"`
	} `json:"config"`
	Container struct {
		Env   map[string]string `json:"env"`
		Merge struct {
			Resources corev1.ResourceRequirements `json:"resources"`
		} `json:"merge"`
	} `json:"container"`
	PodTemplate struct {
		TopologySpreadConstraints map[string]struct {
			MaxSkew           int    `json:"maxSkew"`
			WhenUnsatisfiable string `json:"whenUnsatisfiable"`
		} `json:"topologySpreadConstraints"`
	} `json:"podTemplate"`
	PodDisruptionBudget struct {
		Enabled bool `json:"enabled"`
	} `json:"podDisruptionBudget"`
	PromExporter struct {
		Enabled    bool `json:"enabled"`
		PodMonitor struct {
			Enabled bool `json:"enabled"`
		} `json:"podMonitor"`
	} `json:"promExporter"`
}

// k8sFiles is the content of deploy/kubernetes, decoded.
type k8sFiles struct {
	kinds           map[string]string // file -> kind ("" for the Helm values)
	namespaces      []*corev1.Namespace
	serviceAccounts map[string]*corev1.ServiceAccount
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	pdbs            []*policyv1.PodDisruptionBudget
	serviceMonitors []*serviceMonitor
	scaledObjects   []*scaledObject
	kustomization   *kustomization
	nats            *natsValues
	namespaced      map[string]string // "kind/name" -> namespace
}

// k8sAPIVersions is the apiVersion of each kind the directory holds.
func k8sAPIVersions() map[string]string {
	return map[string]string{
		"Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1", "Secret": "v1", "Service": "v1",
		"Deployment": "apps/v1", "PodDisruptionBudget": "policy/v1",
		"ServiceMonitor": "monitoring.coreos.com/v1", "ScaledObject": "keda.sh/v1alpha1",
		"Kustomization": "kustomize.config.k8s.io/v1beta1",
	}
}

// k8sManifests reads and strictly decodes every YAML file of deploy/kubernetes.
func k8sManifests(t *testing.T) *k8sFiles {
	t.Helper()
	m := &k8sFiles{
		kinds: map[string]string{}, serviceAccounts: map[string]*corev1.ServiceAccount{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{}, deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		namespaced: map[string]string{},
	}
	files, err := filepath.Glob(filepath.Join("kubernetes", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		if ext := filepath.Ext(name); ext != ".yaml" {
			t.Errorf("kubernetes/%s: only .yaml files belong here", name)
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if name == "nats-values.yaml" {
			m.nats = &natsValues{}
			if err := decodeStrict(b, m.nats); err != nil {
				t.Errorf("kubernetes/%s: %v", name, err)
			}
			m.kinds[name] = ""
			continue
		}
		docs := regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1)
		for _, doc := range docs {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
				continue
			}
			if err := m.add(name, []byte(doc)); err != nil {
				t.Errorf("kubernetes/%s: %v", name, err)
			}
		}
	}
	if m.kustomization == nil || m.nats == nil || len(m.deployments) == 0 {
		t.Fatalf("kubernetes/: want a kustomization.yaml, nats-values.yaml and a Deployment; found %v", m.kinds)
	}
	return m
}

// add decodes one manifest strictly, by its kind.
func (m *k8sFiles) add(file string, doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	want, ok := k8sAPIVersions()[tm.Kind]
	if !ok {
		return fmt.Errorf("kind %q is not one this test knows: add it to k8sAPIVersions and decode it strictly", tm.Kind)
	}
	if tm.APIVersion != want {
		return fmt.Errorf("%s has apiVersion %q, want %q", tm.Kind, tm.APIVersion, want)
	}
	if prev, dup := m.kinds[file]; dup && prev != tm.Kind {
		return fmt.Errorf("holds a %s and a %s: one kind per file", prev, tm.Kind)
	}
	m.kinds[file] = tm.Kind
	var (
		obj  any
		meta *metav1.ObjectMeta
	)
	switch tm.Kind {
	case "Namespace":
		o := &corev1.Namespace{}
		obj, meta = o, &o.ObjectMeta
		m.namespaces = append(m.namespaces, o)
	case "ServiceAccount":
		o := &corev1.ServiceAccount{}
		obj, meta = o, &o.ObjectMeta
		defer func() { m.serviceAccounts[o.Name] = o }()
	case "ConfigMap":
		o := &corev1.ConfigMap{}
		obj, meta = o, &o.ObjectMeta
		defer func() { m.configMaps[o.Name] = o }()
	case "Secret":
		o := &corev1.Secret{}
		obj, meta = o, &o.ObjectMeta
		defer func() { m.secrets[o.Name] = o }()
	case "Deployment":
		o := &appsv1.Deployment{}
		obj, meta = o, &o.ObjectMeta
		defer func() { m.deployments[o.Name] = o }()
	case "Service":
		o := &corev1.Service{}
		obj, meta = o, &o.ObjectMeta
		defer func() { m.services[o.Name] = o }()
	case "PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		obj, meta = o, &o.ObjectMeta
		m.pdbs = append(m.pdbs, o)
	case "ServiceMonitor":
		o := &serviceMonitor{}
		obj, meta = o, &o.Metadata
		m.serviceMonitors = append(m.serviceMonitors, o)
	case "ScaledObject":
		o := &scaledObject{}
		obj, meta = o, &o.Metadata
		m.scaledObjects = append(m.scaledObjects, o)
	case "Kustomization":
		o := &kustomization{}
		m.kustomization = o
		return decodeStrict(doc, o)
	}
	if err := decodeStrict(doc, obj); err != nil {
		return err
	}
	if meta.Name == "" {
		return fmt.Errorf("a %s without metadata.name", tm.Kind)
	}
	if tm.Kind != "Namespace" {
		m.namespaced[tm.Kind+"/"+meta.Name] = meta.Namespace
	}
	return nil
}

// decodeStrict decodes a YAML document into obj as the Kubernetes API server does
// in strict mode: field names are case-sensitive, and an unknown or duplicate field
// is an error.
func decodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// ptr prints the value a pointer points to, or "unset".
func ptr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// worker returns the Deployment and its passerelle container.
func (m *k8sFiles) worker(t *testing.T) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	if len(m.deployments) != 1 {
		t.Fatalf("kubernetes/: %d Deployments, want one", len(m.deployments))
	}
	for _, d := range m.deployments {
		for i := range d.Spec.Template.Spec.Containers {
			if c := &d.Spec.Template.Spec.Containers[i]; c.Name == "passerelle" {
				return d, c
			}
		}
		t.Fatalf("Deployment %s has no container named passerelle", d.Name)
	}
	return nil, nil
}

// env returns the variables the container sees from its ConfigMaps and Secrets
// (envFrom) and its env, with their values where the manifests give them.
func (m *k8sFiles) env(t *testing.T, c *corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := m.configMaps[from.ConfigMapRef.Name]
			if !ok {
				t.Errorf("container %s: envFrom ConfigMap %s is not in kubernetes/", c.Name, from.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				env[from.Prefix+k] = v
			}
		case from.SecretRef != nil:
			s, ok := m.secrets[from.SecretRef.Name]
			if !ok {
				t.Errorf("container %s: envFrom Secret %s is not in kubernetes/", c.Name, from.SecretRef.Name)
				continue
			}
			for k := range secretKeys(s) {
				env[from.Prefix+k] = "(secret)"
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := m.configMaps[ref.Name]
			if !ok || cm.Data[ref.Key] == "" {
				t.Errorf("container %s: %s comes from key %s of ConfigMap %s, which kubernetes/ does not hold", c.Name, e.Name, ref.Key, ref.Name)
			}
			env[e.Name] = cm.Data[ref.Key]
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if s, ok := m.secrets[ref.Name]; !ok || !secretKeys(s)[ref.Key] {
				t.Errorf("container %s: %s comes from key %s of Secret %s, which kubernetes/ does not hold", c.Name, e.Name, ref.Key, ref.Name)
			}
			env[e.Name] = "(secret)"
		default:
			env[e.Name] = "(from the pod)"
		}
	}
	return env
}

// secretKeys returns the keys of a Secret.
func secretKeys(s *corev1.Secret) map[string]bool {
	keys := map[string]bool{}
	for k := range s.Data {
		keys[k] = true
	}
	for k := range s.StringData {
		keys[k] = true
	}
	return keys
}

// mountedFile finds the Secret or ConfigMap key that the container sees at file, and
// returns its content ("" for a binary Secret value) and a description.
func (m *k8sFiles) mountedFile(d *appsv1.Deployment, c *corev1.Container, file string) (content, from string, ok bool) {
	for _, vm := range c.VolumeMounts {
		rel, under := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !under || vm.SubPath != "" {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			switch {
			case v.Secret != nil:
				s, found := m.secrets[v.Secret.SecretName]
				if !found {
					return "", "Secret " + v.Secret.SecretName + " (not in kubernetes/)", false
				}
				if val, ok := s.StringData[rel]; ok {
					return val, "Secret " + s.Name + " key " + rel, true
				}
				val, ok := s.Data[rel]
				return string(val), "Secret " + s.Name + " key " + rel, ok
			case v.ConfigMap != nil:
				cm, found := m.configMaps[v.ConfigMap.Name]
				if !found {
					return "", "ConfigMap " + v.ConfigMap.Name + " (not in kubernetes/)", false
				}
				val, ok := cm.Data[rel]
				return val, "ConfigMap " + cm.Name + " key " + rel, ok
			}
		}
	}
	return "", "no volume", false
}

func TestKubernetesManifestsDecode(t *testing.T) {
	t.Parallel()
	m := k8sManifests(t)
	ns := m.kustomization.Namespace
	if len(m.namespaces) != 1 || m.namespaces[0].Name != ns {
		t.Errorf("kubernetes/: want one Namespace, named %q as kustomization.yaml says", ns)
	} else if m.namespaces[0].Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("Namespace %s does not enforce the restricted Pod Security Standard", ns)
	}
	for obj, got := range m.namespaced {
		if got != ns {
			t.Errorf("%s is in namespace %q, want %q", obj, got, ns)
		}
	}
}

func TestKubernetesDeployment(t *testing.T) {
	t.Parallel()
	m := k8sManifests(t)
	d, c := m.worker(t)
	settings := runSettings(t)
	env := m.env(t, c)
	spec := d.Spec.Template.Spec

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("Deployment %s: replicas %s, want 3", d.Name, ptr(d.Spec.Replicas))
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Deployment %s: its selector %v does not select its pods %v", d.Name, d.Spec.Selector, d.Spec.Template.Labels)
	}
	if len(c.Args) == 0 || c.Args[0] != "run" || len(c.Command) != 0 {
		t.Errorf("container %s: command %q args %q, want the image's entrypoint with args [run]", c.Name, c.Command, c.Args)
	}
	if !subcommands(t)[c.Args[0]] {
		t.Errorf("container %s: %q is not a passerelle subcommand", c.Name, c.Args[0])
	}
	if sa := spec.ServiceAccountName; sa != "" && m.serviceAccounts[sa] == nil {
		t.Errorf("Deployment %s: ServiceAccount %s is not in kubernetes/", d.Name, sa)
	}

	// The image: the one kustomization.yaml names.
	images := map[string]bool{}
	for _, i := range m.kustomization.Images {
		images[i.Name] = true
	}
	if !images[c.Image] {
		t.Errorf("container %s: image %q is not one kustomization.yaml sets (images: %v)", c.Name, c.Image, slices.Sorted(maps.Keys(images)))
	}

	// Shutdown: longer than passerelle's drain.
	minGrace := duration(t, settingOr(env, settings, "PASSERELLE_SHUTDOWN_GRACE")) + duration(t, settingOr(env, settings, "PASSERELLE_CALL_BUDGET")) + 10*time.Second
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < minGrace {
		t.Errorf("Deployment %s: terminationGracePeriodSeconds %s, want at least %s (shutdown grace, call budget, telemetry flush)", d.Name, ptr(g), minGrace)
	}

	// Probes on the port of PASSERELLE_HTTP_LISTEN.
	_, port, err := net.SplitHostPort(settingOr(env, settings, "PASSERELLE_HTTP_LISTEN"))
	if err != nil {
		t.Fatal(err)
	}
	probes := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/healthz"}}
	for _, p := range probes {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("container %s: no HTTP %s probe", c.Name, p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("container %s: %s probe asks %s, want %s", c.Name, p.name, p.probe.HTTPGet.Path, p.path)
		}
		if got := containerPort(c, p.probe.HTTPGet.Port); strconv.Itoa(int(got)) != port {
			t.Errorf("container %s: %s probe asks port %s (%d), passerelle listens on %s (PASSERELLE_HTTP_LISTEN)", c.Name, p.name, p.probe.HTTPGet.Port.String(), got, port)
		}
	}

	// Resources.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("container %s: no %s request", c.Name, r)
		}
	}
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		t.Errorf("container %s: no memory limit", c.Name)
	}
	if v, ok := env["GOMEMLIMIT"]; ok {
		q, err := resource.ParseQuantity(strings.TrimSuffix(strings.ReplaceAll(v, "iB", "i"), "B"))
		if err != nil || q.Cmp(limit) >= 0 {
			t.Errorf("container %s: GOMEMLIMIT %s is not below the memory limit %s", c.Name, v, limit.String())
		}
	}

	// Security.
	img := dockerfile(t)
	psc, csc := spec.SecurityContext, c.SecurityContext
	if psc == nil || csc == nil {
		t.Fatalf("Deployment %s: pod and container security contexts are required", d.Name)
	}
	if !isTrue(psc.RunAsNonRoot) && !isTrue(csc.RunAsNonRoot) {
		t.Errorf("Deployment %s: runAsNonRoot is not set", d.Name)
	}
	if psc.RunAsUser == nil || *psc.RunAsUser != img.imageUID(t) {
		t.Errorf("Deployment %s: runAsUser %s, want the image's user %d (Dockerfile USER)", d.Name, ptr(psc.RunAsUser), img.imageUID(t))
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("Deployment %s: the pod's seccomp profile is not RuntimeDefault", d.Name)
	}
	if !isTrue(csc.ReadOnlyRootFilesystem) {
		t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		t.Errorf("container %s: capabilities %v, want drop [ALL] and nothing added", c.Name, csc.Capabilities)
	}
	if isTrue(spec.AutomountServiceAccountToken) || spec.AutomountServiceAccountToken == nil {
		t.Errorf("Deployment %s: automountServiceAccountToken is not false (passerelle never calls the Kubernetes API)", d.Name)
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0) {
			t.Errorf("Deployment %s: secret volume %s is readable by others (defaultMode %s)", d.Name, v.Name, ptr(v.Secret.DefaultMode))
		}
	}
}

// containerPort resolves a probe's or a Service's port to a port of the container.
func containerPort(c *corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

func isTrue(b *bool) bool { return b != nil && *b }

// TestKubernetesEnvironment checks that every variable the container gets is one
// passerelle reads (or the Go runtime, or another variable, does), that the accounts
// file is mounted, and that every secret it references is mounted or set.
func TestKubernetesEnvironment(t *testing.T) {
	t.Parallel()
	m := k8sManifests(t)
	d, c := m.worker(t)
	settings := runSettings(t)
	env := m.env(t, c)

	af, ok := env["PASSERELLE_ACCOUNTS_FILE"]
	if !ok {
		t.Fatalf("container %s: PASSERELLE_ACCOUNTS_FILE (required) is not set", c.Name)
	}
	content, from, ok := m.mountedFile(d, c, af)
	if !ok {
		t.Fatalf("container %s: PASSERELLE_ACCOUNTS_FILE %s is not a mounted Secret or ConfigMap key (%s)", c.Name, af, from)
	}
	file, err := accounts.Parse([]byte(content))
	if err != nil {
		t.Fatalf("%s: %v", from, err)
	}
	envRefs, fileRefs := accountReferences(file)
	for p := range fileRefs {
		if _, from, ok := m.mountedFile(d, c, p); !ok {
			t.Errorf("the accounts file (%s) reads %s, which the container does not see (%s)", af, p, from)
		}
	}
	for name := range envRefs {
		if _, ok := env[name]; !ok {
			t.Errorf("the accounts file (%s) reads env:%s, which the container does not have", af, name)
		}
	}

	// Names used in $(NAME) expansions must come before their use.
	expansion := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	defined := map[string]bool{}
	for k := range env {
		defined[k] = !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == k }) // envFrom comes first
	}
	expanded := map[string]bool{}
	for _, e := range c.Env {
		for _, ref := range expansion.FindAllStringSubmatch(e.Value, -1) {
			expanded[ref[1]] = true
			if !defined[ref[1]] {
				t.Errorf("container %s: %s uses $(%s), which is not defined before it", c.Name, e.Name, ref[1])
			}
		}
		defined[e.Name] = true
	}
	goRuntime := map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "GODEBUG": true}
	for name := range env {
		known, ours := checkPasserelleVariable(name, settings)
		switch {
		case ours && !known:
			t.Errorf("container %s: %s is not a setting of passerelle run (README's configuration table) nor a standard OTEL_* variable", c.Name, name)
		case !ours && !envRefs[name] && !goRuntime[name] && !expanded[name]:
			t.Errorf("container %s: %s is read by nothing: neither passerelle run, its accounts file, the Go runtime nor another variable", c.Name, name)
		}
	}

	// The NATS cluster of nats-values.yaml.
	u, err := url.Parse(env["NATS_URL"])
	if err != nil || u.Scheme != "nats" {
		t.Fatalf("NATS_URL %q is not a nats:// URL", env["NATS_URL"])
	}
	if first, _, _ := strings.Cut(u.Hostname(), "."); first != m.nats.FullnameOverride {
		t.Errorf("NATS_URL %s does not name the NATS chart's Service %s", u, m.nats.FullnameOverride)
	}
	if r, err := strconv.Atoi(settingOr(env, settings, "PASSERELLE_REPLICAS")); err != nil || r != m.nats.Config.Cluster.Replicas {
		t.Errorf("PASSERELLE_REPLICAS %q: streams and buckets should have one replica on each of the %d NATS servers", settingOr(env, settings, "PASSERELLE_REPLICAS"), m.nats.Config.Cluster.Replicas)
	}
}

func TestKubernetesServiceAndMonitoring(t *testing.T) {
	t.Parallel()
	m := k8sManifests(t)
	d, c := m.worker(t)
	pods := labels.Set(d.Spec.Template.Labels)
	_, listen, err := net.SplitHostPort(settingOr(m.env(t, c), runSettings(t), "PASSERELLE_HTTP_LISTEN"))
	if err != nil {
		t.Fatal(err)
	}

	if len(m.services) != 1 {
		t.Fatalf("kubernetes/: %d Services, want one", len(m.services))
	}
	var svc *corev1.Service
	for _, s := range m.services {
		svc = s
	}
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(pods) {
		t.Errorf("Service %s: its selector %v does not select the pods %v", svc.Name, svc.Spec.Selector, pods)
	}
	metricsPort := ""
	for _, p := range svc.Spec.Ports {
		if got := containerPort(c, p.TargetPort); strconv.Itoa(int(got)) != listen {
			t.Errorf("Service %s: port %s targets %s, passerelle listens on %s", svc.Name, p.Name, p.TargetPort.String(), listen)
		}
		metricsPort = p.Name
	}
	a := svc.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != listen || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("Service %s: scrape annotations %v, want scrape true, port %s, path /metrics", svc.Name, a, listen)
	}

	if len(m.serviceMonitors) != 1 {
		t.Fatalf("kubernetes/: %d ServiceMonitors, want one", len(m.serviceMonitors))
	}
	sm := m.serviceMonitors[0]
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(svc.Labels)) {
		t.Errorf("ServiceMonitor %s: its selector does not select Service %s (labels %v)", sm.Metadata.Name, svc.Name, svc.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != metricsPort || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor %s: endpoints %+v, want port %s path /metrics", sm.Metadata.Name, sm.Spec.Endpoints, metricsPort)
	}

	if len(m.pdbs) != 1 {
		t.Fatalf("kubernetes/: %d PodDisruptionBudgets, want one", len(m.pdbs))
	}
	pdb := m.pdbs[0]
	sel, err = metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(pods) {
		t.Errorf("PodDisruptionBudget %s: its selector does not select the pods %v", pdb.Name, pods)
	}
	if u := pdb.Spec.MaxUnavailable; u == nil || u.Type != intstr.Int || u.IntVal < 1 || d.Spec.Replicas == nil || u.IntVal >= *d.Spec.Replicas {
		t.Errorf("PodDisruptionBudget %s: maxUnavailable %v, want at least 1 and fewer than the replicas", pdb.Name, pdb.Spec.MaxUnavailable)
	}
}

// codeConsumers returns the durable consumers passerelle creates, by stream, read
// from the ConsumerSpec literals of workers/service/service.go and the stream names
// of workers/runtime/topology.go.
func codeConsumers(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	topo, err := parser.ParseFile(fset, repoFile("workers", "runtime", "topology.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	ast.Inspect(topo, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[name.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
		return true
	})
	svc, err := parser.ParseFile(fset, repoFile("workers", "service", "service.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	ast.Inspect(svc, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		if sel, ok := lit.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "ConsumerSpec" {
			return true
		}
		var stream, durable string
		for _, e := range lit.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			key, _ := kv.Key.(*ast.Ident)
			if key == nil {
				continue
			}
			switch key.Name {
			case "Stream":
				if s, ok := kv.Value.(*ast.SelectorExpr); ok {
					stream = consts[s.Sel.Name]
				}
			case "Durable":
				if s, ok := kv.Value.(*ast.BasicLit); ok {
					durable, _ = strconv.Unquote(s.Value)
				}
			}
		}
		if stream != "" && durable != "" {
			out[stream] = append(out[stream], durable)
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("workers/service/service.go: no runtime.ConsumerSpec with a Stream and a Durable found")
	}
	return out
}

// TestKubernetesScaledObject checks that KEDA scales the Deployment on the lag of
// the intake consumers passerelle creates, read from the NATS cluster's monitoring
// endpoint, and never to zero.
func TestKubernetesScaledObject(t *testing.T) {
	t.Parallel()
	m := k8sManifests(t)
	d, c := m.worker(t)
	env := m.env(t, c)
	settings := runSettings(t)
	consumers := codeConsumers(t)

	if len(m.scaledObjects) != 1 {
		t.Fatalf("kubernetes/: %d ScaledObjects, want one", len(m.scaledObjects))
	}
	so := m.scaledObjects[0]
	ref := so.Spec.ScaleTargetRef
	if ref.Name != d.Name || (ref.Kind != "" && ref.Kind != "Deployment") || (ref.APIVersion != "" && ref.APIVersion != "apps/v1") {
		t.Errorf("ScaledObject %s targets %+v, want Deployment %s", so.Metadata.Name, ref, d.Name)
	}
	if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 || so.Spec.IdleReplicaCount != nil {
		t.Errorf("ScaledObject %s: minReplicaCount %s: never scale to zero (the follow-ups and the PASRAU poller would stop)", so.Metadata.Name, ptr(so.Spec.MinReplicaCount))
	}
	if so.Spec.MaxReplicaCount == nil || so.Spec.MinReplicaCount == nil || *so.Spec.MaxReplicaCount <= *so.Spec.MinReplicaCount {
		t.Errorf("ScaledObject %s: maxReplicaCount %s is not above minReplicaCount", so.Metadata.Name, ptr(so.Spec.MaxReplicaCount))
	}

	concurrency, err := strconv.Atoi(settingOr(env, settings, "PASSERELLE_CONCURRENCY"))
	if err != nil {
		t.Fatal(err)
	}
	natsNS := ""
	if u, err := url.Parse(env["NATS_URL"]); err == nil {
		if parts := strings.Split(u.Hostname(), "."); len(parts) > 1 {
			natsNS = parts[1]
		}
	}
	wantHost := m.nats.FullnameOverride + "-headless." + natsNS + ".svc.cluster.local"
	scaled := map[string]bool{}
	for _, tr := range so.Spec.Triggers {
		if tr.Type != "nats-jetstream" {
			t.Errorf("ScaledObject %s: trigger %q, want nats-jetstream", so.Metadata.Name, tr.Type)
			continue
		}
		known := natsJetStreamMetadata()
		for k := range tr.Metadata {
			if _, ok := known[k]; !ok {
				t.Errorf("ScaledObject %s: nats-jetstream has no metadata %q", so.Metadata.Name, k)
			}
		}
		for k, required := range known {
			if _, ok := tr.Metadata[k]; required && !ok {
				t.Errorf("ScaledObject %s: nats-jetstream requires metadata %q", so.Metadata.Name, k)
			}
		}
		stream, consumer := tr.Metadata["stream"], tr.Metadata["consumer"]
		if !slices.Contains(consumers[stream], consumer) {
			t.Errorf("ScaledObject %s: passerelle creates no consumer %s on stream %s (it creates %v)", so.Metadata.Name, consumer, stream, consumers)
		}
		scaled[stream+"/"+consumer] = true
		if lag, err := strconv.Atoi(tr.Metadata["lagThreshold"]); err != nil || lag != 2*concurrency {
			t.Errorf("ScaledObject %s: %s's lagThreshold %q, want twice PASSERELLE_CONCURRENCY (%d)", so.Metadata.Name, consumer, tr.Metadata["lagThreshold"], 2*concurrency)
		}
		host, port, err := net.SplitHostPort(tr.Metadata["natsServerMonitoringEndpoint"])
		if err != nil || host != wantHost || port != strconv.Itoa(m.nats.Config.Monitor.Port) {
			t.Errorf("ScaledObject %s: natsServerMonitoringEndpoint %q, want %s:%d (the chart's headless Service, its monitoring port)", so.Metadata.Name, tr.Metadata["natsServerMonitoringEndpoint"], wantHost, m.nats.Config.Monitor.Port)
		}
		if tr.Metadata["account"] != "$G" {
			t.Errorf("ScaledObject %s: account %q; nats-values.yaml configures no account, so the streams are in $G", so.Metadata.Name, tr.Metadata["account"])
		}
	}
	for _, stream := range []string{"PASSERELLE_INVOICES", "PASSERELLE_DECLARATIONS"} {
		if len(consumers[stream]) == 0 {
			t.Errorf("workers/service creates no consumer on %s", stream)
		}
		for _, consumer := range consumers[stream] {
			if !scaled[stream+"/"+consumer] {
				t.Errorf("ScaledObject %s: no trigger on consumer %s of %s", so.Metadata.Name, consumer, stream)
			}
		}
	}
}

func TestKubernetesNATSValues(t *testing.T) {
	t.Parallel()
	v := k8sManifests(t).nats
	if v.FullnameOverride == "" {
		t.Error("nats-values.yaml: fullnameOverride is empty: the Service names would depend on the release name")
	}
	c := v.Config
	if !c.Cluster.Enabled || c.Cluster.Replicas != 3 {
		t.Errorf("nats-values.yaml: cluster enabled %t with %d replicas, want a cluster of 3", c.Cluster.Enabled, c.Cluster.Replicas)
	}
	js := c.JetStream
	if !js.Enabled || !js.FileStore.Enabled || !js.FileStore.PVC.Enabled || js.FileStore.Dir == "" {
		t.Errorf("nats-values.yaml: JetStream %t, file store %t on a PVC %t in %q; want all", js.Enabled, js.FileStore.Enabled, js.FileStore.PVC.Enabled, js.FileStore.Dir)
	}
	if _, err := resource.ParseQuantity(js.FileStore.PVC.Size); err != nil {
		t.Errorf("nats-values.yaml: the PVC size %q: %v", js.FileStore.PVC.Size, err)
	}
	if js.MemoryStore.Enabled {
		t.Error("nats-values.yaml: the memory store is enabled: passerelle's streams are on file")
	}
	if got := js.Merge["sync_interval"]; got != "always" {
		t.Errorf("nats-values.yaml: config.jetstream.merge.sync_interval is %v, want always (fsync before each acknowledgement, as deploy/nats.conf)", got)
	}
	if !c.Monitor.Enabled || c.Monitor.Port == 0 {
		t.Error("nats-values.yaml: the monitoring endpoint (which KEDA reads) is not enabled")
	}
}

// TestKubernetesKustomization checks that kustomization.yaml lists every manifest but
// the Secret templates, which hold placeholders only.
func TestKubernetesKustomization(t *testing.T) {
	t.Parallel()
	m := k8sManifests(t)
	listed := map[string]bool{}
	for _, r := range m.kustomization.Resources {
		if path.Base(r) != r {
			t.Errorf("kustomization.yaml: resource %s is not a file of this directory", r)
		}
		listed[r] = true
		if _, ok := m.kinds[r]; !ok {
			t.Errorf("kustomization.yaml: resource %s does not exist", r)
		}
	}
	for file, kind := range m.kinds {
		switch {
		case kind == "Kustomization" || file == "nats-values.yaml":
		case kind == "Secret" && listed[file]:
			t.Errorf("kustomization.yaml lists the Secret template %s: applying it would overwrite real credentials", file)
		case kind != "Secret" && !listed[file]:
			t.Errorf("kustomization.yaml does not list %s", file)
		}
	}
	for _, s := range m.secrets {
		for k, v := range s.StringData {
			if strings.HasSuffix(k, ".json") {
				f, err := accounts.Parse([]byte(v))
				if err != nil {
					t.Errorf("Secret %s key %s: %v", s.Name, k, err)
					continue
				}
				for name, a := range f.Accounts {
					for _, sec := range accountSecrets(a) {
						if v := string(sec); v != "" && !strings.HasPrefix(v, "file:") && !strings.HasPrefix(v, "env:") {
							t.Errorf("Secret %s key %s: account %s holds a literal secret; reference it (file: or env:)", s.Name, k, name)
						}
					}
				}
				continue
			}
			if v != "REPLACE_ME" {
				t.Errorf("Secret %s key %s is not the placeholder REPLACE_ME", s.Name, k)
			}
		}
		for k, v := range s.Data {
			if len(v) != 0 {
				t.Errorf("Secret %s key %s holds data: templates hold placeholders only", s.Name, k)
			}
		}
	}
}

// accountSecrets returns the secret values of an account.
func accountSecrets(a accounts.Account) []accounts.Secret {
	var out []accounts.Secret
	if c := a.ChorusPro; c != nil {
		out = append(out, c.ClientSecret, c.Password, c.P12Password)
	}
	if p := a.PASRAU; p != nil {
		out = append(out, p.Password)
	}
	return out
}
