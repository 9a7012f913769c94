/**
 * The transport half of the test matrix: `npm test` runs the suite in two vitest projects
 * (vitest.config.ts), "plaintext" and "tls". The "tls" project's globalSetup
 * (scripts/test-tls-setup.ts) writes one throwaway PKI per run and names its folder in
 * TEST_TLS_DIR; every fixture that starts a server or opens a client takes its credentials from
 * here, so the same test files run over mTLS there and in plaintext everywhere else (the
 * "plaintext" project, benches, scripts: TEST_TLS_DIR unset). Servers get the "service"
 * identity and require client certificates of the run's CA; clients get the "client" identity.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { type ChannelCredentials, credentials, ServerCredentials } from "@grpc/grpc-js";
import { checkHealth, type HealthAnswer } from "../grpc/health-probe.js";
import { type IdentityFiles, writeThrowawayPki } from "../tls/throwaway-ca.js";
import { PLAINTEXT, type TlsSettings } from "../tls/tls-settings.js";

/** The variable naming the PKI folder; set only by the "tls" project. */
export const TEST_TLS_DIR = "TEST_TLS_DIR";

/** Identity of every server a test starts (and of its own outgoing calls, as in production). */
const SERVICE = "service";
/** Identity of the tests' own clients. */
const CLIENT = "client";

/** Where the run's PKI lives. */
export interface TestPkiFiles {
  readonly caFile: string;
  readonly service: IdentityFiles;
  readonly client: IdentityFiles;
}

/** PEM contents, for credentials built in memory (no file watchers, no timers). */
interface TestPki {
  readonly files: TestPkiFiles;
  readonly ca: Buffer;
  readonly service: { readonly cert: Buffer; readonly key: Buffer };
  readonly client: { readonly cert: Buffer; readonly key: Buffer };
}

/** The file names of a test PKI in `dir`, as writeTestPki writes them. */
function testPkiFiles(dir: string): TestPkiFiles {
  const identity = (name: string): IdentityFiles => ({
    certFile: path.join(dir, `${name}.pem`),
    keyFile: path.join(dir, `${name}-key.pem`),
  });
  return { caFile: path.join(dir, "ca.pem"), service: identity(SERVICE), client: identity(CLIENT) };
}

/** Writes a fresh CA, a service and a client certificate (localhost, 127.0.0.1, ::1) into `dir`. */
export async function writeTestPki(dir: string): Promise<TestPkiFiles> {
  await writeThrowawayPki(dir, [SERVICE, CLIENT]);
  return testPkiFiles(dir);
}

let cached: { dir: string; pki: TestPki } | undefined;

/** The run's PKI, or undefined outside the "tls" project. A set but unusable folder is an error. */
function testPki(): TestPki | undefined {
  const dir = process.env[TEST_TLS_DIR];
  if (dir === undefined || dir === "") return undefined;
  if (cached?.dir === dir) return cached.pki;
  const files = testPkiFiles(dir);
  const read = (file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(
        `${TEST_TLS_DIR}=${dir} but ${file} cannot be read: the "tls" vitest project's globalSetup ` +
          `(scripts/test-tls-setup.ts) writes it; run through vitest, e.g. npx vitest run --project tls`,
        { cause: error },
      );
    }
  };
  const pki: TestPki = {
    files,
    ca: read(files.caFile),
    service: { cert: read(files.service.certFile), key: read(files.service.keyFile) },
    client: { cert: read(files.client.certFile), key: read(files.client.keyFile) },
  };
  cached = { dir, pki };
  return pki;
}

/**
 * The CA a browser test's Chromium trusts: in the "tls" project the run's CA (the bridge
 * serves the page with a certificate it issued), so the page loads over checked HTTPS;
 * undefined otherwise.
 */
export function testBrowserTrustedCa(): Buffer | undefined {
  return testPki()?.ca;
}

/** True in the "tls" project: fixtures speak mTLS. */
export function testTlsEnabled(): boolean {
  return testPki() !== undefined;
}

/** The run's PKI files; throws outside the "tls" project (for tests that only run there). */
export function requireTestPki(): TestPkiFiles {
  const pki = testPki();
  if (pki === undefined) {
    throw new Error(`${TEST_TLS_DIR} is not set: this test belongs to the "tls" vitest project only`);
  }
  return pki.files;
}

/** Test servers re-read their files rarely: nothing rotates them during a run. */
const REFRESH_MS = 3_600_000;

/**
 * TLS settings of a server a test starts (RetrainConfig.tls, PredictConfig.tls): TLS only,
 * client certificates of the run's CA required, and the same CA and identity for its own
 * outgoing calls (Predict to Retrain). PLAINTEXT outside the "tls" project.
 */
export function testServerTls(): TlsSettings {
  const pki = testPki();
  if (pki === undefined) return PLAINTEXT;
  return {
    ...pki.files.service,
    clientCaFile: pki.files.caFile,
    caFile: pki.files.caFile,
    refreshIntervalMs: REFRESH_MS,
  };
}

/** The same settings as environment variables, for services started as child processes. */
export function testTlsEnv(): Record<string, string> {
  const pki = testPki();
  if (pki === undefined) return {};
  return {
    TLS_CERT_FILE: pki.files.service.certFile,
    TLS_KEY_FILE: pki.files.service.keyFile,
    TLS_CLIENT_CA_FILE: pki.files.caFile,
    TLS_CA_FILE: pki.files.caFile,
    TLS_REFRESH_MS: String(REFRESH_MS),
  };
}

/** Credentials of a bare grpc-js server in a test (fakes, baselines): mTLS in the "tls" project. */
export function testServerCredentials(): ServerCredentials {
  const pki = testPki();
  if (pki === undefined) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    pki.ca,
    [{ cert_chain: pki.service.cert, private_key: pki.service.key }],
    true,
  );
}

/** Credentials of a test's gRPC client: the client certificate and the run's CA in the "tls" project. */
export function testChannelCredentials(): ChannelCredentials {
  const pki = testPki();
  if (pki === undefined) return credentials.createInsecure();
  return credentials.createSsl(pki.ca, pki.client.key, pki.client.cert);
}

/**
 * node:tls material for raw HTTP/2 in tests (node:http2 clients and servers that stand in for
 * a gRPC peer): `ca` and the identity of the given side; undefined outside the "tls" project.
 */
export function testTlsMaterial(
  side: "client" | "server",
): { ca: Buffer; cert: Buffer; key: Buffer } | undefined {
  const pki = testPki();
  if (pki === undefined) return undefined;
  const identity = side === "client" ? pki.client : pki.service;
  return { ca: pki.ca, cert: identity.cert, key: identity.key };
}

/** "http" or "https": the scheme of a test's HTTP/2 or HTTP/1.1 connection to a test server. */
export function testScheme(): "http" | "https" {
  return testTlsEnabled() ? "https" : "http";
}

/** A grpc.health.v1 Check as checkHealth does it, with the test client's credentials. */
export function testHealthCheck(address: string, service = "", deadlineMs = 1000): Promise<HealthAnswer> {
  return checkHealth(address, service, deadlineMs, testChannelCredentials());
}
