// The root context: configuration, node identity and the per-VM telemetry state shared by the
// streams of this worker (counters' id cache, label budgets).
import { RootContext, Context } from "@solo-io/proxy-runtime/assembly";
import { Config, DEFAULT_MAX_REWRITE_BODY, parseConfig } from "./config";
import { Buffer, getBuffer, getEnv, getPropertyString, log, Level } from "./envoy";
import { labelFromString } from "./telemetry/labels";
import { LabelBudget } from "./telemetry/cardinality";
import { Counters } from "./telemetry/metrics";
import { LlmStream } from "./filter";

export const PLUGIN = "asm-llm-proxy";

export class LlmRoot extends RootContext {
  config: Config = new Config();
  workload: string = "unknown";
  namespace: string = "unknown";
  counters: Counters = new Counters();
  models: LabelBudget = new LabelBudget(100, []);
  destinations: LabelBudget = new LabelBudget(100, []);

  createContext(context_id: u32): Context {
    return new LlmStream(context_id, this);
  }

  // Replaces the SDK's onConfigure (it read the configuration through a bogus size pointer).
  onConfigure(configuration_size: u32): bool {
    const text = configuration_size == 0 ? "" : String.UTF8.decode(getBuffer(Buffer.PluginConfiguration, 0, configuration_size));
    const result = parseConfig(text, (name: string): string | null => getEnv(name));
    const config = result.config;
    if (config === null) {
      log(Level.Error, PLUGIN + ": " + result.error);
      return false;
    }
    this.config = config;
    this.models = new LabelBudget(config.maxModels, config.modelAllowList);
    this.destinations = new LabelBudget(config.maxDestinations, []);
    this.workload = labelFromString(nodeMetadata("WORKLOAD_NAME"));
    this.namespace = labelFromString(nodeMetadata("NAMESPACE"));
    if (config.maxRewriteBodyBytes > DEFAULT_MAX_REWRITE_BODY) {
      log(Level.Warn, PLUGIN + ": maxRewriteBodyBytes " + config.maxRewriteBodyBytes.toString() + " is above half of Envoy's default per_connection_buffer_limit_bytes (1 MiB); raise that limit too, or a large request may be answered 413 while it is held");
    }
    for (let i = 0; i < config.providers.length; i++) {
      const p = config.providers[i];
      if (p.apiKeyEnv.length > 0 && p.apiKey.length == 0) {
        log(Level.Warn, PLUGIN + ": provider '" + p.name + "': environment variable " + p.apiKeyEnv + " is not set; requests go out without an API key");
      }
    }
    log(Level.Info, PLUGIN + ": configured: " + config.providers.length.toString() + " provider(s), " + config.routes.length.toString() + " route(s), workload " + this.workload + "." + this.namespace);
    return true;
  }
}

/** Istio node metadata: `xds.node.metadata.X` on Envoy >= 1.33, `node.metadata.X` before. */
function nodeMetadata(key: string): string | null {
  const modern = getPropertyString(["xds", "node", "metadata", key]);
  if (modern !== null && modern.length > 0) return modern;
  return getPropertyString(["node", "metadata", key]);
}
