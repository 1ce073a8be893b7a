// The filter's entry: the proxy-wasm exports, and the root context under the names Istio may
// pass as root id (WasmPlugin pluginName; empty when unset).
export * from "./exports"; // the SDK's exports, with the garbage collection policy
import { registerRootContext, RootContext } from "@solo-io/proxy-runtime/assembly";
import { LlmRoot, PLUGIN } from "./root";

registerRootContext((context_id: u32): RootContext => new LlmRoot(context_id), PLUGIN);
registerRootContext((context_id: u32): RootContext => new LlmRoot(context_id), "");
