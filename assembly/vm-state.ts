// What one VM (one Envoy worker) keeps across its streams: the configuration, the workload's
// identity, the metric id cache and the label budgets. The root context owns it and hands it
// to every stream, as proxy-wasm-rust-sdk's examples hand a root's settings to their HTTP
// contexts; streams and sinks see this, never the root context.
import { Config } from "./config";
import { LabelBudget } from "./telemetry/cardinality";
import { Metrics } from "./telemetry/metrics";
import { OtelMetrics } from "./telemetry/otel";
import { IdentityState } from "./identity/attribution";

// The metric id cache and the label budgets belong to the VM, not to one configuration: a plugin
// reload on a running VM (a listener or ECDS update) configures a new root context, while Envoy
// keeps every metric id it handed out (a new one per definition) and every stat a label value
// created. Per root, each reload would define every series again and admit a fresh budget of
// label values, and a root kept alive while its old listener drains would hold its own copy.
const vmMetrics = new Metrics();
const vmModels = new LabelBudget(100, []);
const vmDestinations = new LabelBudget(100, []);
const vmIdentity = new IdentityState();
const vmOtel = new OtelMetrics();

export class VmState {
  config: Config = new Config();
  workload: string = "unknown";
  namespace: string = "unknown";
  metrics: Metrics = vmMetrics;
  models: LabelBudget = vmModels;
  destinations: LabelBudget = vmDestinations;
  identity: IdentityState = vmIdentity;
  otel: OtelMetrics = vmOtel;

  configure(config: Config, workload: string, namespace: string): void {
    this.config = config;
    this.models.reconfigure(config.maxModels, config.modelAllowList);
    this.destinations.reconfigure(config.maxDestinations, []);
    this.workload = workload;
    this.namespace = namespace;
  }
}
