// Before any test file runs: the pinned Envoys are installed once (envoy/install.ts), so test
// files running in parallel do not each fetch them, and a machine that cannot have them fails
// at once with the reason.
import { ensureEnvoy } from "../envoy/install";
import { TESTED_ENVOY_VERSIONS } from "../envoy/versions";

export default async function setup(): Promise<void> {
  for (const version of TESTED_ENVOY_VERSIONS) await ensureEnvoy(version);
}
