package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"istio.io/istio/pkg/test"
)

// manifests: what of manifests/ each part of Istio reads.
type manifests struct {
	istioConfigs      string // WasmPlugin, ServiceEntry, DestinationRule, Telemetry: istiod's config store
	kubeObjects       string // the sleep Service, ServiceAccount and Pod: istiod's Kubernetes registry
	mesh              string // the `istio` ConfigMap's data.mesh
	bootstrapOverride string // the bootstrapOverride ConfigMap's custom_bootstrap.json
	pod               pod
}

type pod struct {
	Name, Namespace, Workload, ServiceAccount, IP string
	Labels, Annotations                           map[string]string
	AppContainers                                 []string
}

// The pod's address in the rendering (any address works; it shows in the node id and metadata).
const podIP = "10.244.0.12"

var istioKinds = map[string]bool{"WasmPlugin": true, "ServiceEntry": true, "DestinationRule": true, "Telemetry": true}

type object struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Data       map[string]any `json:"data"`
	Spec       map[string]any `json:"spec"`
}

// readManifests reads manifests/*.yaml and manifests/demo/*.yaml (examples/ holds alternatives,
// not additions). The sleep Deployment becomes the Pod it would create, with the labels Istio's
// injector adds (injection-template.yaml: security.istio.io/tlsMode, service.istio.io/canonical-*).
func readManifests(t test.Failer, dir string) manifests {
	var files []string
	for _, glob := range []string{"*.yaml", "demo/*.yaml"} {
		m, _ := filepath.Glob(filepath.Join(dir, glob))
		files = append(files, m...)
	}
	sort.Strings(files)
	var out manifests
	var istio, kube []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range splitYAML(raw) {
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			switch {
			case istioKinds[o.Kind]:
				istio = append(istio, doc)
			case o.Kind == "ConfigMap" && o.Metadata["name"] == "istio":
				out.mesh, _ = o.Data["mesh"].(string)
			case o.Kind == "ConfigMap" && o.Data["custom_bootstrap.json"] != nil:
				out.bootstrapOverride, _ = o.Data["custom_bootstrap.json"].(string)
			case o.Kind == "Service" || o.Kind == "ServiceAccount":
				kube = append(kube, doc)
			case o.Kind == "Deployment":
				p, doc := podOf(t, doc)
				out.pod = p
				kube = append(kube, doc)
			}
		}
	}
	if out.pod.Name == "" || out.mesh == "" || out.bootstrapOverride == "" || len(istio) == 0 {
		t.Fatalf("manifests in %s lack the sleep Deployment, the istio mesh ConfigMap, the bootstrap override or Istio resources", dir)
	}
	out.istioConfigs = strings.Join(istio, "\n---\n")
	out.kubeObjects = strings.Join(kube, "\n---\n")
	return out
}

func splitYAML(raw []byte) []string {
	var docs []string
	for _, d := range bytes.Split(raw, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, string(d))
		}
	}
	return docs
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

func podOf(t test.Failer, doc string) (pod, string) {
	var d struct {
		Metadata struct{ Name, Namespace string }
		Spec     struct {
			Template struct {
				Metadata struct {
					Labels, Annotations map[string]string
				}
				Spec map[string]any
			}
		}
	}
	if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{}
	for k, v := range d.Spec.Template.Metadata.Labels {
		labels[k] = v
	}
	setDefault := func(k, v string) {
		if _, ok := labels[k]; !ok {
			labels[k] = v
		}
	}
	setDefault("security.istio.io/tlsMode", "istio")
	setDefault("service.istio.io/canonical-name", firstNonEmpty(labels["app.kubernetes.io/name"], labels["app"], d.Metadata.Name))
	setDefault("service.istio.io/canonical-revision", firstNonEmpty(labels["app.kubernetes.io/version"], labels["version"], "latest"))
	ns := firstNonEmpty(d.Metadata.Namespace, "default")
	p := pod{
		Name:        d.Metadata.Name + "-6d9f8b7c5d-x2x4q",
		Namespace:   ns,
		Workload:    d.Metadata.Name,
		IP:          podIP,
		Labels:      labels,
		Annotations: d.Spec.Template.Metadata.Annotations,
	}
	spec := d.Spec.Template.Spec
	p.ServiceAccount, _ = spec["serviceAccountName"].(string)
	containers, _ := spec["containers"].([]any)
	var kept []any
	for _, c := range containers {
		name, _ := c.(map[string]any)["name"].(string)
		if name != "istio-proxy" { // the injector's override container, not an application
			p.AppContainers = append(p.AppContainers, name)
			kept = append(kept, c)
		}
	}
	spec["containers"] = kept
	podObj := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": p.Name, "namespace": ns, "labels": labels, "annotations": p.Annotations},
		"spec":       spec,
		"status": map[string]any{
			"phase":      "Running",
			"podIP":      podIP,
			"podIPs":     []any{map[string]any{"ip": podIP}},
			"conditions": []any{map[string]any{"type": "Ready", "status": "True"}},
		},
	}
	b, err := yaml.Marshal(podObj)
	if err != nil {
		t.Fatal(err)
	}
	return p, string(b)
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
