package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// kinds are the objects the chart may render, by apiVersion and kind, with
// the Go type each decodes into.
var kinds = map[string]func() any{
	"apps/v1 Deployment":                      func() any { return &appsv1.Deployment{} },
	"v1 Service":                              func() any { return &corev1.Service{} },
	"v1 ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1 Secret":                               func() any { return &corev1.Secret{} },
	"v1 ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"policy/v1 PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"monitoring.coreos.com/v1 ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"networking.k8s.io/v1 NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
}

// manifests are the decoded objects of one rendering.
type manifests struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	serviceAccounts []*corev1.ServiceAccount
	pdbs            []*policyv1.PodDisruptionBudget
	serviceMonitors []*monitoringv1.ServiceMonitor
	networkPolicies []*networkingv1.NetworkPolicy
}

// Validate decodes every YAML document of rendered strictly into its
// Kubernetes API type (an unknown or duplicate field, a wrong type or an
// unknown kind is a problem) and then checks what matters to kfbridge:
// names and labels are valid, selectors select, ports and references
// resolve, probes reach the admin listener the process binds, pods run as
// non-root on a read-only root file system, and no secret is a literal
// value of a ConfigMap or an environment variable. It returns the objects
// (Kind/name) and the problems found.
func Validate(rendered []byte) (objects, problems []string) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var m manifests
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(rendered)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			bad("reading the manifests: %v", err)
			break
		}
		var head struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			bad("a document that is not YAML or not an object: %v", err)
			continue
		}
		tm := head.TypeMeta
		if tm.Kind == "" && tm.APIVersion == "" {
			if len(bytes.TrimSpace(stripComments(doc))) > 0 {
				bad("a document without apiVersion and kind:\n%s", doc)
			}
			continue
		}
		newObj, ok := kinds[tm.APIVersion+" "+tm.Kind]
		if !ok {
			bad("%s %s: not a kind this chart renders", tm.APIVersion, tm.Kind)
			continue
		}
		obj := newObj()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			bad("%s %s: %v", tm.Kind, head.Metadata.Name, err)
			// Decoded leniently, the object still takes part in the
			// checks below, so one bad field is not reported as a
			// cascade of unselected pods.
			obj = newObj()
			if err := yaml.Unmarshal(doc, obj); err != nil {
				continue
			}
		}
		meta := obj.(metav1.Object)
		objects = append(objects, tm.Kind+"/"+meta.GetName())
		problems = append(problems, checkMeta(tm.Kind, meta)...)
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployments = append(m.deployments, o)
		case *corev1.Service:
			m.services = append(m.services, o)
		case *corev1.ConfigMap:
			m.configMaps = append(m.configMaps, o)
		case *corev1.Secret:
			m.secrets = append(m.secrets, o)
		case *corev1.ServiceAccount:
			m.serviceAccounts = append(m.serviceAccounts, o)
		case *policyv1.PodDisruptionBudget:
			m.pdbs = append(m.pdbs, o)
		case *monitoringv1.ServiceMonitor:
			m.serviceMonitors = append(m.serviceMonitors, o)
		case *networkingv1.NetworkPolicy:
			m.networkPolicies = append(m.networkPolicies, o)
		}
	}
	if len(m.deployments) == 0 {
		bad("no Deployment rendered")
	}
	problems = append(problems, m.check()...)
	return objects, problems
}

// stripComments drops the comment lines of a YAML document.
func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.Bytes()
}

// checkMeta checks the name and labels of an object as the API server does.
func checkMeta(kind string, meta metav1.Object) []string {
	var problems []string
	nameCheck := validation.IsDNS1123Subdomain
	if kind == "Service" {
		nameCheck = validation.IsDNS1035Label
	}
	for _, e := range nameCheck(meta.GetName()) {
		problems = append(problems, fmt.Sprintf("%s %q: name: %s", kind, meta.GetName(), e))
	}
	for k, v := range meta.GetLabels() {
		for _, e := range validation.IsQualifiedName(k) {
			problems = append(problems, fmt.Sprintf("%s %s: label %q: %s", kind, meta.GetName(), k, e))
		}
		for _, e := range validation.IsValidLabelValue(v) {
			problems = append(problems, fmt.Sprintf("%s %s: label %s=%q: %s", kind, meta.GetName(), k, v, e))
		}
	}
	return problems
}

// adminListenEnv names, per container, the variable that sets the
// listener its probes must reach.
var adminListenEnv = map[string]string{
	"ingress": "KFBRIDGE_INGRESS_ADMIN_LISTEN",
	"egress":  "KFBRIDGE_EGRESS_LISTEN",
}

// secretLike reports whether a configuration key (password,
// encoding_aes_key, …) or a KFBRIDGE_ variable (KFBRIDGE_NATS_PASSWORD,
// KFBRIDGE_APPS_0_SECRET, …) holds a secret: its last word says so.
func secretLike(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"password", "token", "secret", "aes_key"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

func (m *manifests) check() []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	secrets := map[string]*corev1.Secret{}
	var secretValues []string
	for _, s := range m.secrets {
		secrets[s.Name] = s
		for _, v := range s.StringData {
			secretValues = append(secretValues, v)
		}
		for _, v := range s.Data {
			secretValues = append(secretValues, string(v))
		}
	}
	configMaps := map[string]*corev1.ConfigMap{}
	for _, c := range m.configMaps {
		configMaps[c.Name] = c
		for k, v := range c.Data {
			for _, s := range secretValues {
				if len(s) >= 4 && strings.Contains(v, s) {
					bad("ConfigMap %s: %s holds a value of a Secret", c.Name, k)
				}
			}
			problems = append(problems, secretKeys("ConfigMap "+c.Name+": "+k, v)...)
		}
	}
	// secretKey checks a reference to a key of a Secret: one the chart
	// renders must have it; others are the operator's (existingSecret).
	secretKey := func(where, name, key string, optional bool) {
		s, ok := secrets[name]
		if !ok || optional {
			return
		}
		if _, ok := s.StringData[key]; ok {
			return
		}
		if _, ok := s.Data[key]; !ok {
			bad("%s: Secret %s has no key %q", where, name, key)
		}
	}
	serviceAccounts := map[string]bool{"default": true}
	for _, sa := range m.serviceAccounts {
		serviceAccounts[sa.Name] = true
	}

	for _, d := range m.deployments {
		where := "Deployment " + d.Name
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || d.Spec.Selector == nil || sel.Empty() {
			bad("%s: no valid selector (%v)", where, err)
		} else if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			bad("%s: the selector does not select its own pods", where)
		}
		pod := d.Spec.Template.Spec
		if !serviceAccounts[pod.ServiceAccountName] && pod.ServiceAccountName != "" {
			bad("%s: service account %s is not rendered", where, pod.ServiceAccountName)
		}
		volumes := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			volumes[v.Name] = v
			switch {
			case v.ConfigMap != nil:
				if _, ok := configMaps[v.ConfigMap.Name]; !ok {
					bad("%s: volume %s: ConfigMap %s is not rendered", where, v.Name, v.ConfigMap.Name)
				}
			case v.Secret != nil:
				for _, it := range v.Secret.Items {
					secretKey(where+": volume "+v.Name, v.Secret.SecretName, it.Key, v.Secret.Optional != nil && *v.Secret.Optional)
				}
			}
		}
		if len(pod.Containers) == 0 {
			bad("%s: no containers", where)
		}
		for _, c := range pod.Containers {
			problems = append(problems, checkContainer(where, pod, c, volumes, secretKey)...)
		}
	}

	// Services select pods of a Deployment, on ports those pods have.
	services := map[string]*corev1.Service{}
	for _, s := range m.services {
		services[s.Name] = s
		where := "Service " + s.Name
		d := selected(m.deployments, s.Spec.Selector)
		if d == nil {
			bad("%s: selects no Deployment's pods", where)
			continue
		}
		for _, p := range s.Spec.Ports {
			if _, ok := containerPort(d.Spec.Template.Spec, p.TargetPort.String()); !ok {
				bad("%s: port %s: target %s is no container port of Deployment %s", where, p.Name, p.TargetPort.String(), d.Name)
			}
		}
	}
	// A budget that allows no disruption at all makes every node drain
	// hang.
	for _, p := range m.pdbs {
		d := selectedBy(m.deployments, p.Spec.Selector)
		if d == nil {
			bad("PodDisruptionBudget %s: selects no Deployment's pods", p.Name)
			continue
		}
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		switch minA, maxU := p.Spec.MinAvailable, p.Spec.MaxUnavailable; {
		case (minA == nil) == (maxU == nil):
			bad("PodDisruptionBudget %s: needs exactly one of minAvailable and maxUnavailable", p.Name)
		case minA != nil && minA.Type == intstr.Int && minA.IntVal >= replicas,
			maxU != nil && maxU.Type == intstr.Int && maxU.IntVal == 0:
			bad("PodDisruptionBudget %s: allows no disruption of Deployment %s's %d replicas, so every node drain would hang", p.Name, d.Name, replicas)
		}
	}
	// A ServiceMonitor scrapes only admin listeners (the public one serves
	// no /metrics), and each Service it selects has the endpoint's port.
	for _, sm := range m.serviceMonitors {
		where := "ServiceMonitor " + sm.Name
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil || sel.Empty() {
			bad("%s: no valid selector (%v)", where, err)
			continue
		}
		n := 0
		for _, s := range m.services {
			if !sel.Matches(labels.Set(s.Labels)) {
				continue
			}
			n++
			for _, e := range sm.Spec.Endpoints {
				i := slices.IndexFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == e.Port })
				if i < 0 {
					bad("%s: endpoint port %q is no port of Service %s", where, e.Port, s.Name)
					continue
				}
				if t := s.Spec.Ports[i].TargetPort.String(); t != "admin" {
					bad("%s: scrapes Service %s port %s, which targets %s, not the admin listener", where, s.Name, e.Port, t)
				}
			}
		}
		if n < 2 {
			bad("%s: selects %d Services, want the ingress's and the egress's admin Services", where, n)
		}
	}
	// A NetworkPolicy selects a Deployment's pods, names ports they have,
	// and lets the admin port be reached only from peers it lists.
	for _, np := range m.networkPolicies {
		where := "NetworkPolicy " + np.Name
		d := selectedBy(m.deployments, &np.Spec.PodSelector)
		if d == nil {
			bad("%s: selects no Deployment's pods", where)
			continue
		}
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port == nil {
					continue
				}
				if _, ok := containerPort(d.Spec.Template.Spec, p.Port.String()); !ok {
					bad("%s: port %s is no container port of Deployment %s", where, p.Port.String(), d.Name)
				}
				if p.Port.String() == "admin" && len(rule.From) == 0 {
					bad("%s: lets everyone reach the admin listener", where)
				}
			}
		}
	}
	return problems
}

// checkContainer checks one container of a pod.
func checkContainer(where string, pod corev1.PodSpec, c corev1.Container, volumes map[string]corev1.Volume, secretKey func(where, name, key string, optional bool)) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	where += ": container " + c.Name
	if c.Image == "" || strings.HasSuffix(c.Image, ":") {
		bad("%s: image %q has no tag", where, c.Image)
	}

	// Security: non-root, read-only root file system, nothing to escalate.
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	nonRoot := first(sc.RunAsNonRoot, psc.RunAsNonRoot)
	if nonRoot == nil || !*nonRoot {
		bad("%s: runAsNonRoot is not true", where)
	}
	if uid := first(sc.RunAsUser, psc.RunAsUser); uid != nil && *uid == 0 {
		bad("%s: runs as user 0", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		bad("%s: readOnlyRootFilesystem is not true", where)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		bad("%s: allowPrivilegeEscalation is not false", where)
	}
	if sc.Privileged != nil && *sc.Privileged {
		bad("%s: privileged", where)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		bad("%s: capabilities do not drop ALL", where)
	}
	if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
		bad("%s: no memory request", where)
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		bad("%s: no memory limit", where)
	}

	// Environment: secrets only by reference, to keys that exist.
	env := map[string]string{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			bad("%s: env %s set twice", where, e.Name)
		}
		env[e.Name] = e.Value
		if e.ValueFrom == nil {
			if e.Value != "" && secretLike(e.Name) {
				bad("%s: env %s: a secret as a literal value; take it from a Secret (valueFrom.secretKeyRef)", where, e.Name)
			}
			continue
		}
		if ref := e.ValueFrom.SecretKeyRef; ref != nil {
			secretKey(where+": env "+e.Name, ref.Name, ref.Key, ref.Optional != nil && *ref.Optional)
		}
	}
	for _, vm := range c.VolumeMounts {
		if _, ok := volumes[vm.Name]; !ok {
			bad("%s: mounts volume %s, which the pod does not have", where, vm.Name)
		}
	}

	// Ports are unique; the probes reach the admin listener the process
	// binds (its address variable's port), never the public one.
	seen := map[int32]bool{}
	for _, p := range c.Ports {
		if seen[p.ContainerPort] {
			bad("%s: container port %d twice", where, p.ContainerPort)
		}
		seen[p.ContainerPort] = true
	}
	listen, ok := adminListenEnv[c.Name]
	if !ok {
		bad("%s: not a kfbridge part (ingress, egress)", where)
		return problems
	}
	addr, ok := env[listen]
	if !ok {
		bad("%s: %s is not set, so the admin listener is the image's default", where, listen)
		return problems
	}
	_, port, _ := strings.Cut(addr, ":")
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"startupProbe", c.StartupProbe, "/healthz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			bad("%s: no %s with httpGet", where, p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			bad("%s: %s: path %s, want %s", where, p.name, p.probe.HTTPGet.Path, p.path)
		}
		n, ok := containerPort(pod, p.probe.HTTPGet.Port.String())
		if !ok {
			bad("%s: %s: port %s is no container port", where, p.name, p.probe.HTTPGet.Port.String())
		} else if fmt.Sprint(n) != port {
			bad("%s: %s: port %d, but the admin listener is %s (%s)", where, p.name, n, addr, listen)
		}
	}
	return problems
}

// secretKeys parses a ConfigMap value as YAML (a configuration file) and
// reports every non-empty value under a key that holds a secret.
func secretKeys(where, value string) []string {
	var doc any
	if err := yaml.Unmarshal([]byte(value), &doc); err != nil {
		return nil // not YAML: the substring check above still applies
	}
	var problems []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if s, ok := v[k].(string); ok && s != "" && secretLike(k) {
					problems = append(problems, fmt.Sprintf("%s: %s%s: a secret in a ConfigMap", where, path, k))
				}
				walk(path+k+".", v[k])
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s%d.", path, i), e)
			}
		}
	}
	walk("", doc)
	return problems
}

// first returns the first non-nil pointer.
func first[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// containerPort resolves a port (a number or a container port's name) of
// a pod.
func containerPort(pod corev1.PodSpec, port string) (int32, bool) {
	for _, c := range pod.Containers {
		for _, p := range c.Ports {
			if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

// selected returns the Deployment whose pods a Service's selector selects.
func selected(ds []*appsv1.Deployment, selector map[string]string) *appsv1.Deployment {
	if len(selector) == 0 {
		return nil
	}
	return selectedBy(ds, metav1.SetAsLabelSelector(selector))
}

// selectedBy returns the Deployment whose pods a label selector selects.
func selectedBy(ds []*appsv1.Deployment, ls *metav1.LabelSelector) *appsv1.Deployment {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil || sel.Empty() {
		return nil
	}
	for _, d := range ds {
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			return d
		}
	}
	return nil
}
