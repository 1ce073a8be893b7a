// The root context: reads the configuration and the node identity into the per-VM state
// (vm-state.ts) and hands that state to each stream it creates.
import { RootContext, Context } from "@solo-io/proxy-runtime/assembly";
import { DEFAULT_MAX_REWRITE_BODY, parseConfig } from "./config";
import { Buffer, getBuffer, getEnv, getPropertyString, log, Level } from "./envoy";
import { labelFromString } from "./telemetry/labels";
import { VmState } from "./vm-state";
import { Direction } from "./identity/config";
import { LlmStream } from "./filter";
import { shapesError } from "./apis/registry";
import { publishVmMemory, tickVmMemory, vmMemoryDue } from "./telemetry/vm-memory";

export const PLUGIN = "asm-llm-proxy";

export class LlmRoot extends RootContext {
  state: VmState = new VmState();

  createContext(context_id: u32): Context {
    return new LlmStream(context_id, this, this.state);
  }

  // Replaces the SDK's onConfigure (it read the configuration through a bogus size pointer).
  onConfigure(configuration_size: u32): bool {
    const text = configuration_size == 0 ? "" : String.UTF8.decode(getBuffer(Buffer.PluginConfiguration, 0, configuration_size));
    const shapes = shapesError();
    if (shapes !== null) {
      log(Level.Error, PLUGIN + ": " + shapes);
      return false;
    }
    const result = parseConfig(text, (name: string): string | null => getEnv(name));
    const config = result.config;
    if (config === null) {
      log(Level.Error, PLUGIN + ": " + result.error);
      return false;
    }
    const workload = nodeMetadata("WORKLOAD_NAME"), namespace = nodeMetadata("NAMESPACE");
    this.state.configure(config, labelFromString(workload), labelFromString(namespace));
    this.state.identity.configure(config.identity, config.direction, workload, namespace, nodeMetadata("SERVICE_ACCOUNT"));
    if (config.maxRewriteBodyBytes > DEFAULT_MAX_REWRITE_BODY) {
      log(Level.Warn, PLUGIN + ": maxRewriteBodyBytes " + config.maxRewriteBodyBytes.toString() + " is above half of Envoy's default per_connection_buffer_limit_bytes (1 MiB); raise that limit too, or a large request may be answered 413 while it is held");
    }
    for (let i = 0; i < config.providers.length; i++) {
      const p = config.providers[i];
      if (p.apiKeyEnv.length > 0 && p.apiKey.length == 0) {
        log(Level.Warn, PLUGIN + ": provider '" + p.name + "': environment variable " + p.apiKeyEnv + " is not set; requests go out without an API key");
      }
    }
    log(Level.Info, PLUGIN + ": configured: " + config.providers.length.toString() + " provider(s), " + config.routes.length.toString() + " route(s), workload " + this.state.workload + "." + this.state.namespace + ", " + directionName(this.state.identity.direction));
    vmMemoryDue();
    tickVmMemory();
    return true;
  }

  // The SDK's onTick logs a line per tick; the tick only refreshes the memory gauge.
  onTick(): void {
    publishVmMemory();
  }
}

function directionName(d: Direction): string {
  if (d == Direction.Inbound) return "inbound";
  if (d == Direction.Outbound) return "outbound";
  return "direction from each request's listener";
}

/** Istio node metadata: `xds.node.metadata.X` on Envoy >= 1.33, `node.metadata.X` before. */
function nodeMetadata(key: string): string | null {
  const modern = getPropertyString(["xds", "node", "metadata", key]);
  if (modern !== null && modern.length > 0) return modern;
  return getPropertyString(["node", "metadata", key]);
}
