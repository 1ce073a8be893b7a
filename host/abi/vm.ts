// One Envoy worker's Wasm VM running one plugin (proxy-wasm-cpp-host src/wasm.cc WasmBase,
// src/context.cc ContextBase, source/extensions/common/wasm/wasm.cc).
import { WasmResult, type WasmResultCode, BufferType, LogLevel } from "./constants";
import { WasmMemory } from "./memory";
import { abiVersionOf, buildImports, ProcExit, RestrictedCall } from "./imports";
import { StatsStore, type MetricIdSpace } from "../envoy/stats";
import { ConstBuf, HostContext, type BufferRef } from "./context";
import type { PropertyProvider, PropertySource, StreamInfo } from "../envoy/properties";
import { DEFAULT_CEL_STATE_PROTOTYPE, type CelStatePrototype } from "../envoy/filter-state";
import { HttpStream } from "../envoy/stream";

const enc = new TextEncoder();

export type FailStrategy = "FAIL_CLOSE" | "FAIL_OPEN";

export interface VmOptions {
  wasm: Uint8Array | WebAssembly.Module;
  /** plugin_root_id (Istio: WasmPlugin pluginName, "" if unset). */
  rootId?: string;
  /** Bytes of the plugin configuration (Istio: pluginConfig as JSON). */
  pluginConfig?: string | Uint8Array;
  vmConfig?: string | Uint8Array;
  /** WASI environ (WasmPlugin vmConfig.env). */
  env?: Record<string, string>;
  properties?: PropertyProvider;
  /** Shared by the VMs of one sidecar. */
  stats?: StatsStore;
  logSink?: (level: number, msg: string) => void;
  /** per_connection_buffer_limit_bytes (Envoy default 1 MiB). */
  bufferLimitBytes?: number;
  /** Clock, ns since epoch. */
  now?: () => bigint;
  failStrategy?: FailStrategy;
  pluginName?: string;
  vmId?: string;
  /** What proxy_get_log_level answers (Envoy's level; default info = 2). */
  logLevel?: number;
  /** Size of the log ring (default 10000). */
  maxLogs?: number;
}

export interface LogEntry {
  level: number;
  message: string;
}

type ForeignFunction = (args: Uint8Array) => { result: WasmResultCode; value?: Uint8Array };

class RootContext extends HostContext {
  readonly isRoot = true;
  /** temp_plugin_: the plugin configuration is readable during on_vm_start/on_configure. */
  pluginConfigReadable = false;

  constructor(
    private readonly vm: WasmVm,
    readonly id: number,
  ) {
    super();
  }

  getBuffer(type: number): BufferRef | null {
    if (type === BufferType.VmConfiguration) return new ConstBuf(this.vm.vmConfig);
    if (type === BufferType.PluginConfiguration) return this.pluginConfigReadable ? new ConstBuf(this.vm.pluginConfig) : null;
    return super.getBuffer(type);
  }

  propertySource(): PropertySource {
    return this.vm.propertySource(null);
  }
}

export class WasmVm {
  readonly stats: StatsStore;
  readonly metricIds: MetricIdSpace;
  readonly logs: LogEntry[] = [];
  failed = false;
  trapCount = 0;
  lastTrap?: Error;
  restricted = false;
  tickPeriodMs = 0;
  /** Calls the host made to the module's malloc, and the bytes requested (protocol checks). */
  mallocCalls = 0;
  mallocBytes = 0;
  readonly sharedData = new Map<string, { value: Uint8Array; cas: number }>();
  readonly foreignFunctions = new Map<string, ForeignFunction>();
  readonly statePrototypes = new Map<string, CelStatePrototype>();
  /** Imports made to answer a fixed status (ImportsVm.hostCallFaults): tests of error paths. */
  readonly hostCallFaults = new Map<string, WasmResultCode>();
  /** Set to a map to count every import call by name (ImportsVm.hostCallCounts). */
  hostCallCounts?: Map<string, number>;
  readonly env: Record<string, string>;
  readonly rootId: string;
  /** The current plugin's configuration (reload() replaces it). */
  pluginConfig: Uint8Array;
  readonly vmConfig: Uint8Array;
  readonly bufferLimitBytes: number;
  readonly failStrategy: FailStrategy;
  readonly logLevel: number;
  readonly now: () => bigint;
  readonly provider: PropertyProvider;
  readonly pluginName: string;
  readonly vmId: string;

  mem!: WasmMemory;
  private exports!: Record<string, WebAssembly.ExportValue>;
  private mallocFn!: (size: number) => number;
  private readonly contexts = new Map<number, HostContext>();
  private nextContextId = 1;
  private current: HostContext | null = null;
  private effectiveId = 0;
  private depth = 0;
  private afterCall: (() => void)[] = [];
  private root!: RootContext;
  private started = false;
  private readonly maxLogs: number;
  private readonly logSink?: (level: number, msg: string) => void;

  private constructor(opts: VmOptions) {
    this.stats = opts.stats ?? new StatsStore();
    this.metricIds = this.stats.newIdSpace();
    this.env = opts.env ?? {};
    this.rootId = opts.rootId ?? "";
    const bytes = (x: string | Uint8Array | undefined) => (x === undefined ? new Uint8Array(0) : typeof x === "string" ? enc.encode(x) : x);
    this.pluginConfig = bytes(opts.pluginConfig);
    this.vmConfig = bytes(opts.vmConfig);
    this.bufferLimitBytes = opts.bufferLimitBytes ?? 1048576;
    this.failStrategy = opts.failStrategy ?? "FAIL_CLOSE";
    this.logLevel = opts.logLevel ?? LogLevel.info;
    this.now = opts.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.provider = opts.properties ?? {};
    this.pluginName = opts.pluginName ?? this.rootId;
    this.vmId = opts.vmId ?? "";
    this.maxLogs = opts.maxLogs ?? 10000;
    this.logSink = opts.logSink;
  }

  /** Compiles and links the module. Fails like Envoy on a missing import, a missing memory
   * export or an unknown ABI version. */
  static async load(opts: VmOptions): Promise<WasmVm> {
    const module = opts.wasm instanceof WebAssembly.Module ? opts.wasm : await WebAssembly.compile(opts.wasm as BufferSource);
    const vm = new WasmVm(opts);
    if (abiVersionOf(module) === null) {
      throw new Error("Wasm module is missing the Proxy-Wasm ABI version or requires an unsupported version");
    }
    const instance = await WebAssembly.instantiate(module, buildImports(vm, module));
    vm.exports = instance.exports;
    const memory = instance.exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) throw new Error("Wasm module does not export its memory");
    vm.mem = new WasmMemory(memory);
    const malloc = (instance.exports.malloc ?? instance.exports.proxy_on_memory_allocate) as ((n: number) => number) | undefined;
    if (typeof malloc !== "function") throw new Error("Wasm module exports neither malloc nor proxy_on_memory_allocate");
    vm.mallocFn = malloc;
    vm.root = new RootContext(vm, vm.allocContextId());
    vm.contexts.set(vm.root.id, vm.root);
    return vm;
  }

  get rootContextId(): number {
    return this.root.id;
  }

  allocContextId(): number {
    return this.nextContextId++;
  }

  /** WasmBase::startVm (_initialize or _start, with restricted callbacks), then the root
   * context: on_context_create(root, 0), on_vm_start(root, vmConfigLen),
   * on_configure(root, pluginConfigLen). False if anything trapped or returned 0. */
  start(): boolean {
    if (this.started) throw new Error("WasmVm.start() called twice");
    this.started = true;
    const init = (this.exports._initialize ?? this.exports._start) as (() => void) | undefined;
    if (typeof init === "function") {
      this.restricted = true;
      try {
        this.callIn(this.root, init);
      } finally {
        this.restricted = false;
      }
      if (typeof this.exports._initialize === "function" && typeof this.exports.main === "function") {
        this.callIn(this.root, this.exports.main as (...a: number[]) => number, 0, 0);
      }
    }
    if (this.failed) return false;
    this.callExport(this.root, "proxy_on_context_create", this.root.id, 0);
    if (this.failed) return false;
    this.root.pluginConfigReadable = true;
    try {
      const vmStart = this.callExport(this.root, "proxy_on_vm_start", this.root.id, this.vmConfig.length);
      if (this.failed || (vmStart !== undefined && vmStart === 0)) return false;
      const configure = this.callExport(this.root, "proxy_on_configure", this.root.id, this.pluginConfig.length);
      if (this.failed || (configure !== undefined && configure === 0)) return false;
    } finally {
      this.root.pluginConfigReadable = false;
    }
    return true;
  }

  /** A plugin reload on the running VM, as Envoy does on a listener or ECDS update that changes
   * the plugin configuration but not the VM (proxy-wasm-cpp-host): the new plugin's handle
   * starts a new root context on the same Wasm instance (WasmBase::start: on_context_create,
   * on_vm_start, on_configure), then the old handle's destructor shuts the old root down
   * (WasmBase::startShutdown: on_done, then on_delete when it answered true); with `drain`, only
   * once the old listener has drained (endDrains). False if the new root failed to start or
   * configure. */
  reload(pluginConfig: string | Uint8Array, opts: { drain?: boolean } = {}): boolean {
    if (!this.started) throw new Error("WasmVm.reload() before start()");
    const old = this.root;
    this.pluginConfig = typeof pluginConfig === "string" ? enc.encode(pluginConfig) : pluginConfig;
    const root = new RootContext(this, this.allocContextId());
    this.contexts.set(root.id, root);
    this.root = root;
    this.callExport(root, "proxy_on_context_create", root.id, 0);
    root.pluginConfigReadable = true;
    let ok = false;
    try {
      const vmStart = this.callExport(root, "proxy_on_vm_start", root.id, this.vmConfig.length);
      const configure = this.failed || vmStart === 0 ? 0 : this.callExport(root, "proxy_on_configure", root.id, this.pluginConfig.length);
      ok = !this.failed && configure !== 0;
    } finally {
      root.pluginConfigReadable = false;
    }
    // `drain`: the old listener drains first (Envoy's --drain-time-s): its filter chain, and
    // so its plugin handle and root context, live until endDrains().
    if (opts.drain) this.draining.push(old);
    else this.shutDownRoot(old);
    return ok && !this.failed;
  }

  private readonly draining: RootContext[] = [];

  /** The drain time of every replaced listener ends: their root contexts are shut down. */
  endDrains(): void {
    for (const root of this.draining.splice(0)) this.shutDownRoot(root);
  }

  private shutDownRoot(old: RootContext): void {
    const done = this.callExport(old, "proxy_on_done", old.id);
    if (done !== 0) this.callExport(old, "proxy_on_delete", old.id);
    this.contexts.delete(old.id);
  }

  /** proxy_on_tick on the root context (what a timer would do); a module can resume a stopped
   * stream from here with proxy_set_effective_context + proxy_continue_stream. */
  tick(): void {
    this.callExport(this.root, "proxy_on_tick", this.root.id);
  }

  newStream(info?: StreamInfo): HttpStream {
    const s = new HttpStream(this, this.allocContextId(), info ?? {});
    this.contexts.set(s.id, s);
    return s;
  }

  /** @internal */
  forgetContext(id: number): void {
    this.contexts.delete(id);
  }

  memoryBytes(): number {
    return this.mem.size;
  }

  hasExport(name: string): boolean {
    return typeof this.exports[name] === "function";
  }

  /** Calls an exported proxy_on_* function with `ctx` current. Missing export → undefined
   * (cpp-host skips callbacks the module does not export). A trap marks the VM failed and
   * returns undefined. */
  callExport(ctx: HostContext, name: string, ...args: number[]): number | undefined {
    const fn = this.exports[name];
    if (typeof fn !== "function") return undefined;
    return this.callIn(ctx, fn as (...a: number[]) => number, ...args);
  }

  private callIn(ctx: HostContext, fn: (...a: number[]) => number | void, ...args: number[]): number | undefined {
    if (this.failed) return undefined;
    const prevCtx = this.current,
      prevEff = this.effectiveId;
    this.current = ctx;
    this.effectiveId = 0;
    this.depth++;
    let result: number | undefined;
    try {
      const r = fn(...args);
      result = typeof r === "number" ? r >>> 0 : undefined;
    } catch (e) {
      this.fail(e);
    } finally {
      this.depth--;
      this.current = prevCtx;
      this.effectiveId = prevEff;
    }
    if (this.depth === 0 && this.afterCall.length) {
      // DeferAfterCallActions: run what the module asked for once the call has returned.
      const actions = this.afterCall;
      this.afterCall = [];
      for (const a of actions) a();
    }
    return result;
  }

  /** Queues an action to run after the outermost call into the module returns. */
  addAfterVmCallAction(f: () => void): void {
    if (this.depth === 0) f();
    else this.afterCall.push(f);
  }

  private fail(e: unknown): void {
    const trap = e instanceof WebAssembly.RuntimeError || e instanceof ProcExit || e instanceof RestrictedCall || e instanceof RangeError;
    const err = e instanceof Error ? e : new Error(String(e));
    this.failed = true;
    this.trapCount++;
    this.lastTrap = err;
    this.log(LogLevel.critical, `Function failed: ${err.message}`);
    if (!trap) throw e; // a bug in the host itself: surface it
  }

  /** The context imports act on: proxy_set_effective_context's choice, else the caller. */
  effectiveContext(): HostContext {
    if (this.effectiveId !== 0) {
      const c = this.contexts.get(this.effectiveId);
      if (c) return c;
    }
    return this.current ?? this.root;
  }

  setEffectiveContext(id: number): WasmResultCode {
    if (!this.contexts.has(id)) return WasmResult.BadArgument;
    this.effectiveId = id;
    return WasmResult.Ok;
  }

  declareProperty(path: string, proto: CelStatePrototype): WasmResultCode {
    if (this.statePrototypes.has(path)) return WasmResult.BadArgument;
    this.statePrototypes.set(path, { readOnly: proto.readOnly, type: proto.type, lifeSpan: proto.lifeSpan, schema: proto.schema });
    return WasmResult.Ok;
  }

  prototypeFor(path: string): CelStatePrototype {
    return this.statePrototypes.get(path) ?? DEFAULT_CEL_STATE_PROTOTYPE;
  }

  /** WasmBase::copyToPointerSize: exactly one malloc(size) for a non-empty value (restricted
   * callbacks while it runs), none for an empty one (ptr 0, size 0). */
  copyToPointerSize(bytes: Uint8Array, ptrPtr: number, sizePtr: number): boolean {
    let addr = 0;
    const size = bytes.length;
    if (size > 0) {
      const prev = this.restricted;
      this.restricted = true;
      this.mallocCalls++;
      this.mallocBytes += size;
      try {
        addr = this.mallocFn(size) >>> 0; // a trap here propagates to the outer call
      } finally {
        this.restricted = prev;
      }
      if (addr === 0) return false;
      if (!this.mem.set(addr, bytes)) return false;
    }
    return this.mem.setU32(ptrPtr, addr) && this.mem.setU32(sizePtr, size);
  }

  log(level: number, message: string): void {
    this.logs.push({ level, message });
    if (this.logs.length > this.maxLogs + 1000) this.logs.splice(0, this.logs.length - this.maxLogs);
    this.logSink?.(level, message);
  }

  propertySource(stream: PropertySource["stream"]): PropertySource {
    return { rootId: this.rootId, pluginName: this.pluginName, vmId: this.vmId, provider: this.provider, stream };
  }
}
