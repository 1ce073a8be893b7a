package main

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	wasmhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"istio.io/istio/pkg/test"
	"istio.io/istio/pkg/util/sets"
	"istio.io/istio/pkg/wasm"
)

// ModulePlaceholder replaces the agent's cache path in the golden (it is a temporary directory).
const ModulePlaceholder = "<pilot-agent wasm cache>/"

// renderAgentConversion runs pilot-agent's conversion of the ECDS Wasm resources
// (pkg/wasm.MaybeConvertWasmExtensionConfig, what the agent's xDS proxy does to every ECDS
// response before Envoy sees it):
//   - pulled: the WasmPlugin's oci:// image from the local registry (the url's registry part is
//     swapped for it; the repository path and tag stay): a `code.local` filename in the cache;
//   - fetch-failed-<policy>: the image cannot be verified (a sha256 that does not match), under
//     the rendered failure policy and under FAIL_CLOSED: the RBAC filter the agent substitutes.
func renderAgentConversion(t test.Failer, o options, ecds []*anypb.Any, write func(string, any)) {
	dir := t.TempDir()
	insecure := sets.New[string]()
	if o.registry != "" {
		insecure.Insert(o.registry)
	}
	cache := wasm.NewLocalFileCache(dir, wasm.Options{
		PurgeInterval:         wasm.DefaultPurgeInterval,
		ModuleExpiry:          wasm.DefaultModuleExpiry,
		InsecureRegistries:    insecure,
		HTTPRequestTimeout:    5 * time.Second,
		HTTPRequestMaxRetries: 1,
	})
	defer cache.Cleanup()

	convert := func(edit func(*wasmv3.PluginConfig)) []*anypb.Any {
		res := make([]*anypb.Any, 0, len(ecds))
		for _, a := range ecds {
			res = append(res, editWasm(t, a, edit))
		}
		if err := wasm.MaybeConvertWasmExtensionConfig(res, cache); err != nil {
			t.Fatalf("pilot-agent conversion: %v", err)
		}
		return res
	}

	registry := o.registry
	if registry == "" {
		registry = "127.0.0.1:9" // nothing listens there: the pull fails
	}
	toLocalRegistry := func(pc *wasmv3.PluginConfig) {
		r := pc.GetVmConfig().GetCode().GetRemote()
		if r == nil {
			t.Fatal("the ECDS Wasm resource has no remote code: pilot-agent would have nothing to fetch")
		}
		u, err := url.Parse(r.HttpUri.Uri)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = registry
		r.HttpUri.Uri = u.String()
	}

	if o.registry != "" {
		pulled := convert(toLocalRegistry)
		module, err := os.ReadFile(o.wasm)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range pulled {
			file := localFile(t, a)
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("the agent's module file: %v", err)
			}
			if !bytes.Equal(got, module) {
				t.Fatalf("the agent wrote %s, which is not the image's module %s", file, o.wasm)
			}
		}
		write("agent-pulled.json", rewriteLocalFiles(t, pulled, dir))
	}

	wrongDigest := strings.Repeat("0", 64)
	for _, policy := range []wasmv3.FailurePolicy{wasmv3.FailurePolicy_UNSPECIFIED, wasmv3.FailurePolicy_FAIL_CLOSED} {
		name := "fetch-failed-as-rendered"
		if policy != wasmv3.FailurePolicy_UNSPECIFIED {
			name = "fetch-failed-" + policy.String()
		}
		out := convert(func(pc *wasmv3.PluginConfig) {
			toLocalRegistry(pc)
			pc.GetVmConfig().GetCode().GetRemote().Sha256 = wrongDigest
			if policy != wasmv3.FailurePolicy_UNSPECIFIED {
				pc.FailurePolicy = policy
			}
		})
		write("agent-"+name+".json", out)
	}
}

// editWasm: a copy of an ECDS resource with its Wasm PluginConfig edited.
func editWasm(t test.Failer, a *anypb.Any, edit func(*wasmv3.PluginConfig)) *anypb.Any {
	ec := &core.TypedExtensionConfig{}
	if err := a.UnmarshalTo(ec); err != nil {
		t.Fatal(err)
	}
	w := &wasmhttp.Wasm{}
	if err := ec.TypedConfig.UnmarshalTo(w); err != nil {
		return proto.Clone(a).(*anypb.Any) // not a Wasm filter: left as it is
	}
	edit(w.Config)
	tc, err := anypb.New(w)
	if err != nil {
		t.Fatal(err)
	}
	ec.TypedConfig = tc
	out, err := anypb.New(ec)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func localFile(t test.Failer, a *anypb.Any) string {
	ec := &core.TypedExtensionConfig{}
	if err := a.UnmarshalTo(ec); err != nil {
		t.Fatal(err)
	}
	w := &wasmhttp.Wasm{}
	if err := ec.TypedConfig.UnmarshalTo(w); err != nil {
		t.Fatalf("converted resource %s is not a Wasm filter: %v", ec.Name, err)
	}
	f := w.GetConfig().GetVmConfig().GetCode().GetLocal().GetFilename()
	if f == "" {
		t.Fatalf("converted resource %s has no local module file", ec.Name)
	}
	return f
}

// rewriteLocalFiles replaces the agent's temporary cache directory with ModulePlaceholder.
func rewriteLocalFiles(t test.Failer, res []*anypb.Any, dir string) []*anypb.Any {
	out := make([]*anypb.Any, 0, len(res))
	for _, a := range res {
		ec := &core.TypedExtensionConfig{}
		if err := a.UnmarshalTo(ec); err != nil {
			t.Fatal(err)
		}
		w := &wasmhttp.Wasm{}
		if err := ec.TypedConfig.UnmarshalTo(w); err != nil {
			t.Fatal(err)
		}
		l := w.GetConfig().GetVmConfig().GetCode().GetLocal()
		rel, err := filepath.Rel(dir, l.GetFilename())
		if err != nil {
			t.Fatal(err)
		}
		// The cache's first directory level is keyed on the url, whose registry port changes
		// from run to run; the file name (the image manifest digest) does not.
		l.Specifier = &core.DataSource_Filename{Filename: ModulePlaceholder + ".../" + filepath.Base(rel)}
		tc, _ := anypb.New(w)
		ec.TypedConfig = tc
		b, _ := anypb.New(ec)
		out = append(out, b)
	}
	return out
}
