// A mesh's certificates made on the spot with openssl: a root CA and, per workload, an EC P-256
// key and certificate whose only SAN is the workload's SPIFFE ID, as istiod issues them
// (URI SAN spiffe://<trust domain>/ns/<ns>/sa/<sa>, usable for client and server auth).
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MeshTls } from "../../envoy/server-bootstrap";

export interface MeshCa {
  dir: string;
  caFile: string;
  /** A workload certificate for this SPIFFE ID, signed by the CA. */
  issue(name: string, spiffeId: string): MeshTls;
}

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

export function meshCa(): MeshCa {
  const dir = mkdtempSync(join(tmpdir(), "asm-llm-mesh-ca-"));
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/O=cluster.local",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    issue(name: string, spiffeId: string): MeshTls {
      writeFileSync(
        join(dir, `${name}.ext`),
        `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=critical,URI:${spiffeId}\n`,
      );
      openssl(
        [
          "req",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-subj",
          "/O=cluster.local",
          "-keyout",
          `${name}.key`,
          "-out",
          `${name}.csr`,
        ],
        dir,
      );
      openssl(
        [
          "x509",
          "-req",
          "-in",
          `${name}.csr`,
          "-CA",
          "ca.crt",
          "-CAkey",
          "ca.key",
          "-CAcreateserial",
          "-days",
          "1",
          "-extfile",
          `${name}.ext`,
          "-out",
          `${name}.crt`,
        ],
        dir,
      );
      return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`), caFile: join(dir, "ca.crt") };
    },
  };
}
