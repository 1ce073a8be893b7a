// What one VM (one Envoy worker) keeps across its streams: the configuration, the workload's
// identity, the metric id cache and the label budgets. The root context owns it and hands it
// to every stream, as proxy-wasm-rust-sdk's examples hand a root's settings to their HTTP
// contexts; streams and sinks see this, never the root context.
import { Config } from "./config";
import { LabelBudget } from "./telemetry/cardinality";
import { Metrics } from "./telemetry/metrics";
import { OtelMetrics } from "./telemetry/otel";
import { IdentityState } from "./identity/attribution";

export class VmState {
  config: Config = new Config();
  workload: string = "unknown";
  namespace: string = "unknown";
  metrics: Metrics = new Metrics();
  models: LabelBudget = new LabelBudget(100, []);
  destinations: LabelBudget = new LabelBudget(100, []);
  identity: IdentityState = new IdentityState();
  otel: OtelMetrics = new OtelMetrics();

  configure(config: Config, workload: string, namespace: string): void {
    this.config = config;
    this.models = new LabelBudget(config.maxModels, config.modelAllowList);
    this.destinations = new LabelBudget(config.maxDestinations, []);
    this.workload = workload;
    this.namespace = namespace;
  }
}
