// istio-render: what istiod and pilot-agent really make of manifests/, for the `sleep` sidecar.
//
// It runs Istio's own code from its Go module, no cluster: pilot's xDS test server
// (pilot/test/xds NewFakeDiscoveryServer: the real config store, WasmPlugin translation, push
// context, listener/route/cluster builders and ECDS generator), pilot-agent's bootstrap
// generation (pkg/bootstrap, with the envoy_bootstrap.json template of the same commit) and
// pilot-agent's Wasm conversion (pkg/wasm: the OCI pull into its file cache, or the RBAC
// filter it puts in place of a module it cannot fetch).
//
// Run by scripts/istio-render.ts (`npm run istio:render`), which builds and pushes the image and
// writes the hash of the manifests next to the output. Output: JSON files in -out, keys sorted,
// proto field names (as Envoy's config_dump and envoy/bootstrap.ts spell them).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/bootstrap"
	"istio.io/istio/pkg/config/mesh"
	pm "istio.io/istio/pkg/model"
	"istio.io/istio/pkg/test"
	"istio.io/istio/pkg/util/sets"
)

type options struct {
	manifests    string // manifests/
	out          string // tests/fixtures/istiod/<line>/
	istioDir     string // the istio.io/istio module's source (for the bootstrap template)
	istioVersion string // what the proxy reports (ISTIO_META_ISTIO_VERSION): pilot gates features on it
	registry     string // host:port of a local registry holding the image, "" to skip the pull
	wasm         string // the module the image carries, to check what the agent wrote
}

func main() {
	var o options
	flag.StringVar(&o.manifests, "manifests", "manifests", "manifests folder")
	flag.StringVar(&o.out, "out", "", "output folder")
	flag.StringVar(&o.istioDir, "istio-dir", "", "istio.io/istio source folder")
	flag.StringVar(&o.istioVersion, "istio-version", "", "proxy version, e.g. 1.31.0")
	flag.StringVar(&o.registry, "registry", "", "local OCI registry host:port holding the WasmPlugin's image")
	flag.StringVar(&o.wasm, "wasm", "", "the module inside the image")
	flag.Parse()
	if o.out == "" || o.istioDir == "" || o.istioVersion == "" {
		fmt.Fprintln(os.Stderr, "usage: istio-render -out DIR -istio-dir DIR -istio-version X.Y.Z [-manifests DIR] [-registry HOST:PORT -wasm FILE]")
		os.Exit(2)
	}
	if err := test.Wrap(func(t test.Failer) { render(t, o) }); err != nil {
		fmt.Fprintln(os.Stderr, "istio-render:", err)
		os.Exit(1)
	}
}

func must[T any](v T, err error) func(t test.Failer, what string) T {
	return func(t test.Failer, what string) T {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func render(t test.Failer, o options) {
	m := readManifests(t, o.manifests)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, v any) { writeJSON(t, filepath.Join(o.out, name), v) }

	// pilot-agent's side first: the bootstrap's node is what the sidecar tells istiod about itself.
	node, base, merged := renderBootstrap(t, o, m)
	write("bootstrap.json", base)
	write("bootstrap-merged.json", merged)

	meshConfig := must(mesh.ApplyMeshConfigDefaults(m.mesh))(t, "mesh config")
	s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		ConfigString:           m.istioConfigs,
		KubernetesObjectString: m.kubeObjects,
		MeshConfig:             meshConfig,
	})
	// Let the krt collections (WasmPlugin → TrafficExtension from 1.30) and the push settle.
	s.EnsureSynced(t)
	time.Sleep(500 * time.Millisecond)
	s.EnsureSynced(t)

	proxy := must(model.ParseServiceNodeWithMetadata(node.ID, &node.Metadata.NodeMetadata))(t, "proxy from the bootstrap node")
	proxy.ConfigNamespace = model.GetProxyConfigNamespace(proxy)
	proxy.Labels = proxy.Metadata.Labels
	proxy = s.SetupProxy(proxy)

	var outbound *listener.Listener
	for _, l := range s.Listeners(proxy) {
		if l.Name == "0.0.0.0_80" {
			outbound = l
		}
	}
	if outbound == nil {
		t.Fatal("no outbound listener 0.0.0.0_80 for the sleep sidecar")
	}
	write("listener-0.0.0.0_80.json", outbound)

	for _, r := range s.Routes(proxy) {
		if r.Name == "80" {
			write("route-80.json", r)
		}
	}
	found := false
	for _, c := range s.Clusters(proxy) {
		if c.Name == "outbound|80||dashscope.aliyuncs.com" {
			write("cluster-outbound_80__dashscope.aliyuncs.com.json", c)
			found = true
		}
	}
	if !found {
		t.Fatal("no cluster outbound|80||dashscope.aliyuncs.com")
	}

	// The ECDS resources the listener's HTTP filters point at.
	names := ecdsNames(t, outbound)
	if len(names) == 0 {
		t.Fatal("the outbound listener references no ECDS resource: the WasmPlugin was not applied")
	}
	gen := s.Discovery.Generators[v3.ExtensionConfigurationType]
	req := &model.PushRequest{Forced: true, Push: s.PushContext(), Start: time.Now()}
	res, _, err := gen.Generate(proxy, &model.WatchedResource{TypeUrl: v3.ExtensionConfigurationType, ResourceNames: sets.New(names...)}, req)
	if err != nil || len(res) != len(names) {
		t.Fatalf("ECDS for %v: %d resources, %v", names, len(res), err)
	}
	var ecds []*anypb.Any
	for _, r := range res {
		ecds = append(ecds, r.Resource)
	}
	write("ecds.json", ecds)

	renderAgentConversion(t, o, ecds, write)
}

// ecdsNames: the config_discovery names of the HCM's HTTP filters, in order.
func ecdsNames(t test.Failer, l *listener.Listener) []string {
	var names []string
	seen := map[string]bool{}
	for _, fc := range l.FilterChains {
		for _, f := range fc.Filters {
			if f.GetTypedConfig() == nil {
				continue
			}
			h := &hcm.HttpConnectionManager{}
			if f.GetTypedConfig().MessageIs(h) {
				if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
					t.Fatal(err)
				}
				for _, hf := range h.HttpFilters {
					if hf.GetConfigDiscovery() != nil && !seen[hf.Name] {
						seen[hf.Name] = true
						names = append(names, hf.Name)
					}
				}
			}
		}
	}
	return names
}

// renderBootstrap runs pilot-agent's bootstrap generation for the sleep pod as the injector sets
// it up (its environment, the downward-API label/annotation files, the mesh's proxy config), and
// merges the bootstrapOverride ConfigMap into it the way Envoy does: pilot-agent does not merge it,
// it passes the file to Envoy as `--config-yaml` (pkg/envoy/proxy.go), and Envoy merges that
// into the bootstrap with protobuf MergeFrom (messages merge, repeated fields append).
func renderBootstrap(t test.Failer, o options, m manifests) (*pm.Node, any, any) {
	meshConfig := must(mesh.ApplyMeshConfigDefaults(m.mesh))(t, "mesh config")
	work := t.TempDir()
	podDir := filepath.Join(work, "etc", "istio", "pod")
	if err := os.MkdirAll(podDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(podDir, "labels"), []byte(downwardAPI(m.pod.Labels)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(podDir, "annotations"), []byte(downwardAPI(m.pod.Annotations)), 0o644); err != nil {
		t.Fatal(err)
	}
	// pilot-agent reads ./etc/istio/pod/* relative to its working directory (pkg/config/constants).
	cwd, _ := os.Getwd()
	if err := os.Chdir(work); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(cwd) //nolint:errcheck

	ip := m.pod.IP
	envs := []string{
		"POD_NAME=" + m.pod.Name,
		"POD_NAMESPACE=" + m.pod.Namespace,
		"INSTANCE_IP=" + ip,
		"SERVICE_ACCOUNT=" + m.pod.ServiceAccount,
		"ISTIO_META_ISTIO_VERSION=" + o.istioVersion,
		"ISTIO_META_CLUSTER_ID=Kubernetes",
		"ISTIO_META_INTERCEPTION_MODE=REDIRECT",
		"ISTIO_META_WORKLOAD_NAME=" + m.pod.Workload,
		"ISTIO_META_OWNER=kubernetes://apis/apps/v1/namespaces/" + m.pod.Namespace + "/deployments/" + m.pod.Workload,
		"ISTIO_META_APP_CONTAINERS=" + strings.Join(m.pod.AppContainers, ","),
		"ISTIO_META_MESH_ID=cluster.local",
		"TRUST_DOMAIN=cluster.local",
	}
	n := must(bootstrap.GetNodeMetaData(bootstrap.MetadataOptions{
		ID:                  "sidecar~" + ip + "~" + m.pod.Name + "." + m.pod.Namespace + "~" + m.pod.Namespace + ".svc.cluster.local",
		Envs:                envs,
		InstanceIPs:         []string{ip},
		ProxyConfig:         meshConfig.DefaultConfig,
		PilotSubjectAltName: []string{"spiffe://cluster.local/ns/istio-system/sa/istiod"},
		EnvoyPrometheusPort: 15090,
		EnvoyStatusPort:     15021,
	}))(t, "node metadata")

	var buf bytes.Buffer
	tmpl := filepath.Join(o.istioDir, "tools", "packaging", "common", "envoy_bootstrap.json")
	if err := bootstrap.New(bootstrap.Config{Node: n}).WriteTo(tmpl, &buf); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(buf.Bytes(), b); err != nil {
		t.Fatalf("bootstrap is not a Bootstrap: %v", err)
	}
	override := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal([]byte(m.bootstrapOverride), override); err != nil {
		t.Fatalf("custom_bootstrap.json is not a Bootstrap: %v", err)
	}
	merged := proto.Clone(b).(*bootstrapv3.Bootstrap)
	proto.Merge(merged, override)
	return n, normalise(t, b), normalise(t, merged)
}

func downwardAPI(kv map[string]string) string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, kv[k])
	}
	return b.String()
}

var marshal = protojson.MarshalOptions{UseProtoNames: true}

// normalise: a proto (or a list of them) as plain JSON with sorted keys, so the files are stable.
func normalise(t test.Failer, v any) any {
	switch x := v.(type) {
	case proto.Message:
		raw := must(marshal.Marshal(x))(t, "marshal")
		return decode(t, raw)
	case []*anypb.Any:
		out := []any{}
		for _, a := range x {
			out = append(out, normalise(t, a))
		}
		return out
	default:
		return v
	}
}

func decode(t test.Failer, raw []byte) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return stable(out)
}

// volatile: values that change from run to run and mean nothing here (the in-memory config
// store stamps resources with the time they were added).
var volatile = map[string]string{"ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION": "<config resource version>"}

func stable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if r, ok := volatile[k]; ok {
				x[k] = r
			} else {
				x[k] = stable(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = stable(e)
		}
	}
	return v
}

func writeJSON(t test.Failer, path string, v any) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(normalise(t, v)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
