// The floor of any AssemblyScript proxy-wasm filter: the same SDK, the same root-context and
// stream bookkeeping, no work in any callback. Benchmarks report the filter's cost against it.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, Context, registerRootContext } from "@solo-io/proxy-runtime/assembly";

class NoopRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new Context(context_id, this);
  }
}

registerRootContext((context_id: u32) => new NoopRoot(context_id), "");
registerRootContext((context_id: u32) => new NoopRoot(context_id), "asm-llm-proxy");
