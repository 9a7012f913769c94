import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, type PeerCertificate } from "node:tls";
import {
  type ChannelCredentials,
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpcServerHost } from "../grpc/grpc-server-host.js";
import { grpcChannelCredentials, grpcServerCredentials } from "./grpc-tls-credentials.js";
import { createThrowawayCa, type PemPair, type ThrowawayCa } from "./throwaway-ca.js";
import { PLAINTEXT, readTlsSettings, type TlsSettings } from "./tls-settings.js";

// Real gRPC servers and clients over TLS and mTLS with freshly issued certificates: who may
// connect, the errors a person gets for bad files, and rotation of the files in place.

const HealthClient = makeGenericClientConstructor(healthService, "Health");
const checkMethod = healthService.Check ?? healthService.check;
const watchMethod = healthService.Watch ?? healthService.watch;
if (checkMethod === undefined || watchMethod === undefined)
  throw new Error("grpc-health-check lacks Check/Watch");
const check = checkMethod;
const watch = watchMethod;

const logLines: string[] = [];
const logger = pino({ level: "info" }, { write: (line: string) => void logLines.push(line) });

let dir: string;
let ca: ThrowawayCa;
let otherCa: ThrowawayCa;
const hosts: GrpcServerHost[] = [];

function write(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** Writes a pair as NAME.pem / NAME-key.pem and returns the two paths. */
function writePair(name: string, pair: PemPair): { certFile: string; keyFile: string } {
  return { certFile: write(`${name}.pem`, pair.cert), keyFile: write(`${name}-key.pem`, pair.key) };
}

async function issue(commonName: string, from: ThrowawayCa = ca): Promise<PemPair> {
  return from.issue({ commonName, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
}

function settings(overrides: Partial<TlsSettings>): TlsSettings {
  return { ...PLAINTEXT, ...overrides };
}

async function startServer(tls: TlsSettings): Promise<{ host: GrpcServerHost; port: number }> {
  const host = new GrpcServerHost({
    serviceNames: ["liver.v1.Test"],
    logger,
    credentials: grpcServerCredentials(tls, logger),
  });
  hosts.push(host);
  const port = await host.listen("127.0.0.1", 0);
  host.setServing(true);
  return { host, port };
}

/** One grpc.health.v1 Check; resolves to the status name or the gRPC error. */
function healthCheck(port: number, creds: ChannelCredentials): Promise<string | ServiceError> {
  const client = new HealthClient(`localhost:${port}`, creds);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      check.requestSerialize,
      check.responseDeserialize,
      { service: "" },
      { deadline: Date.now() + 3000 },
      (error: ServiceError | null, answer?: { status?: unknown }) => {
        client.close();
        resolve(error ?? String(answer?.status));
      },
    );
  });
}

/** The certificate a fresh TLS connection to the port is shown. */
function presentedCertificate(port: number, caPem: string, pair?: PemPair): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: caPem,
      ALPNProtocols: ["h2"],
      ...(pair === undefined ? {} : { cert: pair.cert, key: pair.key }),
    });
    socket.once("secureConnect", () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "liver-tls-"));
  ca = await createThrowawayCa("test CA");
  otherCa = await createThrowawayCa("someone else's CA");
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.shutdown(100)));
  rmSync(dir, { recursive: true, force: true });
});

describe("TLS and mTLS on a real gRPC server", () => {
  it("TLS only: a client trusting the CA gets an answer, a plaintext client does not", async () => {
    const server = writePair("tls-only", await issue("retrain"));
    const caFile = write("ca.pem", ca.cert);
    const { port } = await startServer(settings(server));
    const tlsClient = grpcChannelCredentials(settings({ caFile }), logger);
    expect(await healthCheck(port, tlsClient)).toBe("SERVING");
    const plaintext = await healthCheck(port, credentials.createInsecure());
    expect(plaintext).toMatchObject({ code: status.UNAVAILABLE });
  });

  it("mTLS: no client certificate, or one from another CA, is refused; ours is accepted", async () => {
    const server = writePair("mtls-server", await issue("retrain"));
    const caFile = write("ca.pem", ca.cert);
    const { port } = await startServer(settings({ ...server, clientCaFile: caFile }));

    const withoutCertificate = await healthCheck(port, grpcChannelCredentials(settings({ caFile }), logger));
    expect(withoutCertificate).toMatchObject({ code: status.UNAVAILABLE });
    expect((withoutCertificate as ServiceError).details).toMatch(/certificate/i);

    const stranger = writePair("stranger", await issue("predict", otherCa));
    const strangerResult = await healthCheck(
      port,
      grpcChannelCredentials(settings({ caFile, ...stranger }), logger),
    );
    expect(strangerResult).toMatchObject({ code: status.UNAVAILABLE });

    const client = writePair("mtls-client", await issue("predict"));
    expect(await healthCheck(port, grpcChannelCredentials(settings({ caFile, ...client }), logger))).toBe(
      "SERVING",
    );
  });

  it("a client refuses a server whose certificate another CA signed", async () => {
    const server = writePair("foreign-server", await issue("retrain", otherCa));
    const { port } = await startServer(settings(server));
    const result = await healthCheck(
      port,
      grpcChannelCredentials(settings({ caFile: write("ca.pem", ca.cert) }), logger),
    );
    expect(result).toMatchObject({ code: status.UNAVAILABLE });
  });
});

describe("the plaintext health port of a TLS-only server (for Kubernetes probes)", () => {
  it("answers grpc.health.v1 in plaintext and follows the server's status, and serves nothing else", async () => {
    const server = writePair("health-port", await issue("retrain"));
    const { host } = await startServer(settings(server));
    const healthPort = await host.listenHealth("127.0.0.1", 0);
    expect(await healthCheck(healthPort, credentials.createInsecure())).toBe("SERVING");
    host.setServing(false);
    expect(await healthCheck(healthPort, credentials.createInsecure())).toBe("NOT_SERVING");
    const client = new HealthClient(`localhost:${healthPort}`, credentials.createInsecure());
    const other = await new Promise<ServiceError | null>((resolve) => {
      client.makeUnaryRequest(
        "/liver.v1.PredictService/Predict",
        (x: Buffer) => x,
        (x: Buffer) => x,
        Buffer.alloc(0),
        (error: ServiceError | null) => resolve(error),
      );
    });
    client.close();
    expect(other).toMatchObject({ code: status.UNIMPLEMENTED });
  });
});

describe("errors a person can act on, at start", () => {
  it("half a pair, or a client CA without a certificate, names the settings", () => {
    expect(() => readTlsSettings({ TLS_CERT_FILE: "/x.pem" })).toThrow(/TLS_KEY_FILE is not/);
    expect(() => readTlsSettings({ TLS_KEY_FILE: "/x.pem" })).toThrow(/TLS_CERT_FILE is not/);
    expect(() => readTlsSettings({ TLS_CLIENT_CA_FILE: "/ca.pem" })).toThrow(
      /TLS_CLIENT_CA_FILE needs TLS_CERT_FILE/,
    );
    expect(readTlsSettings({ TLS_CERT_FILE: "/c", TLS_KEY_FILE: "/k", TLS_CA_FILE: "/ca" })).toMatchObject({
      certFile: "/c",
      keyFile: "/k",
      caFile: "/ca",
      clientCaFile: undefined,
    });
  });

  it("a missing file", () => {
    const missing = path.join(dir, "nope.pem");
    expect(() => grpcServerCredentials(settings({ certFile: missing, keyFile: missing }), logger)).toThrow(
      new RegExp(`TLS_CERT_FILE=${missing} cannot be read \\(ENOENT`),
    );
    expect(() => grpcChannelCredentials(settings({ caFile: missing }), logger)).toThrow(
      /TLS_CA_FILE=.* cannot be read/,
    );
  });

  it("a file that is not a certificate, and a key that is not the certificate's", async () => {
    const good = writePair("good", await issue("retrain"));
    const notPem = write("not-a-cert.pem", "hello");
    expect(() =>
      grpcServerCredentials(settings({ certFile: notPem, keyFile: good.keyFile }), logger),
    ).toThrow(/TLS_CERT_FILE=.*not-a-cert.pem holds no PEM certificate/);
    const other = writePair("other", await issue("predict"));
    expect(() =>
      grpcServerCredentials(settings({ certFile: good.certFile, keyFile: other.keyFile }), logger),
    ).toThrow(/TLS_KEY_FILE=.*other-key.pem is not the key of the certificate in TLS_CERT_FILE=.*good.pem/);
  });

  it("an expired certificate", async () => {
    const expired = writePair(
      "expired",
      await ca.issue({
        commonName: "retrain",
        dnsNames: ["localhost"],
        notBefore: new Date(Date.now() - 10 * 86_400_000),
        notAfter: new Date(Date.now() - 86_400_000),
      }),
    );
    expect(() => grpcServerCredentials(settings(expired), logger)).toThrow(
      /TLS_CERT_FILE=.*expired on .*; renew it/,
    );
  });
});

describe("rotation: files replaced in place", () => {
  it("new connections get the new certificate, an open stream is kept, a bad renewal is ignored", async () => {
    const first = await issue("retrain-first");
    const files = writePair("rotating", first);
    const caFile = write("ca.pem", ca.cert);
    const { host, port } = await startServer(settings({ ...files, refreshIntervalMs: 100 }));
    expect((await presentedCertificate(port, ca.cert)).subject.CN).toBe("retrain-first");

    // An open server stream (health Watch) from before the rotation.
    const client = new HealthClient(
      `localhost:${port}`,
      grpcChannelCredentials(settings({ caFile }), logger),
    );
    const stream = client.makeServerStreamRequest(
      "/grpc.health.v1.Health/Watch",
      watch.requestSerialize,
      watch.responseDeserialize,
      { service: "" },
    );
    const seen: string[] = [];
    let streamError: Error | undefined;
    stream.on("data", (answer: { status?: unknown }) => seen.push(String(answer.status)));
    stream.on("error", (error: Error) => (streamError = error));
    await expect.poll(() => seen).toEqual(["SERVING"]);

    // A renewal written key-first leaves a moment where the two files do not match: refused.
    const second = await issue("retrain-second");
    const logged = logLines.length;
    writeFileSync(files.keyFile, second.key);
    await expect
      .poll(() => logLines.slice(logged).join(""), { timeout: 5000 })
      .toMatch(/TLS files not reloaded: .*is not the key of the certificate/);
    expect((await presentedCertificate(port, ca.cert)).subject.CN).toBe("retrain-first");

    // The certificate lands (atomically, as a Secret volume update does): new connections see it.
    const staged = path.join(dir, "staged.pem");
    writeFileSync(staged, second.cert);
    renameSync(staged, files.certFile);
    await expect
      .poll(async () => (await presentedCertificate(port, ca.cert)).subject.CN, { timeout: 5000 })
      .toBe("retrain-second");

    // The stream opened before the rotation still delivers.
    host.setServing(false);
    await expect.poll(() => seen).toEqual(["SERVING", "NOT_SERVING"]);
    expect(streamError).toBeUndefined();
    stream.cancel();
    client.close();
  });
});
