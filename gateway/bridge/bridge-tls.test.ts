import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect } from "node:tls";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictRequest, PredictServiceService } from "../../services/gen/liver/v1/predict_service.js";
import { GrpcServerHost } from "../../services/shared/grpc/grpc-server-host.js";
import { grpcServerCredentials } from "../../services/shared/tls/grpc-tls-credentials.js";
import { createThrowawayCa, type PemPair, type ThrowawayCa } from "../../services/shared/tls/throwaway-ca.js";
import { PLAINTEXT, type TlsSettings } from "../../services/shared/tls/tls-settings.js";
import { constantResponse } from "../../services/predict/testing/constant-predict-server.js";
import { validPatient } from "../../services/predict/testing/patients.js";
import { BridgeTls } from "./bridge-tls.js";
import { GrpcWebBridge } from "./grpc-web-bridge.js";
import { PAGE_HSTS } from "./page-security-headers.js";

// The bridge with TLS on both sides: browsers get the page and grpc-web over HTTPS, and the
// bridge reaches an mTLS-only Predict with its own certificate as client certificate.

const silent = pino({ level: "silent" });
let dir: string;
let ca: ThrowawayCa;
let predict: GrpcServerHost;
let predictPort: number;
const closers: (() => Promise<void> | void)[] = [];

function writePair(name: string, pair: PemPair): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}-key.pem`);
  writeFileSync(certFile, pair.cert);
  writeFileSync(keyFile, pair.key);
  return { certFile, keyFile };
}

async function issue(commonName: string): Promise<PemPair> {
  return ca.issue({ commonName, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
}

async function startBridge(tls: TlsSettings): Promise<number> {
  const bridgeTls = new BridgeTls(tls, silent);
  const bridge = new GrpcWebBridge({
    predictAddresses: [`localhost:${predictPort}`],
    retrainAddress: `localhost:${predictPort}`,
    webRoot: dir,
    logger: silent,
    tls: bridgeTls,
  });
  closers.push(async () => {
    await bridge.close();
    bridgeTls.close();
  });
  return (await bridge.listen(0, "127.0.0.1")).port;
}

/** One HTTPS request to the bridge, trusting the test CA. */
function httpsRequest(
  port: number,
  method: string,
  urlPath: string,
  body?: Buffer,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path: urlPath,
        servername: "localhost",
        ca: ca.cert,
        headers:
          body === undefined ? {} : { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function grpcWebFrame(message: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** The grpc-status a grpc-web answer ends with (its trailer frame). */
function grpcStatus(body: Buffer): string | undefined {
  return /grpc-status:\s*(\d+)/.exec(body.toString("latin1"))?.[1];
}

function presentedCommonName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: ca.cert }, () => {
      resolve(String(socket.getPeerCertificate().subject.CN));
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "bridge-tls-"));
  writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>liver</title>");
  ca = await createThrowawayCa("bridge test CA");
  const caFile = path.join(dir, "ca.pem");
  writeFileSync(caFile, ca.cert);
  const server = writePair("predict", await issue("predict"));
  predict = new GrpcServerHost({
    serviceNames: ["liver.v1.PredictService"],
    logger: silent,
    credentials: grpcServerCredentials({ ...PLAINTEXT, ...server, clientCaFile: caFile }, silent),
  });
  const response = constantResponse();
  predict.addService(PredictServiceService, {
    predict: (_call: unknown, callback: (error: null, value: typeof response) => void) =>
      callback(null, response),
    predictBatch: () => undefined,
    getModelInfo: () => undefined,
  });
  predictPort = await predict.listen("127.0.0.1", 0);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await predict.shutdown(100);
  rmSync(dir, { recursive: true, force: true });
});

describe("the bridge over TLS", () => {
  it("serves the page and grpc-web over HTTPS and calls an mTLS Predict with its own certificate", async () => {
    const caFile = path.join(dir, "ca.pem");
    const port = await startBridge({ ...PLAINTEXT, ...writePair("bridge", await issue("bridge")), caFile });
    const page = await httpsRequest(port, "GET", "/");
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain("<title>liver</title>");
    // Over HTTPS the page also tells the browser to keep to HTTPS (HSTS), besides its CSP.
    expect(page.headers["strict-transport-security"]).toBe(PAGE_HSTS);
    expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(page.headers["referrer-policy"]).toBe("no-referrer");
    const body = grpcWebFrame(PredictRequest.encode({ patient: validPatient() }).finish());
    const answer = await httpsRequest(port, "POST", "/liver.v1.PredictService/Predict", body);
    expect(answer.status).toBe(200);
    expect(grpcStatus(answer.body)).toBe("0");
  });

  it("without a client certificate of its own, the mTLS upstream refuses the bridge (UNAVAILABLE)", async () => {
    const caFile = path.join(dir, "ca.pem");
    // A bridge trusting the CA but with no certificate: plaintext listener, TLS upstream.
    const bare = new BridgeTls({ ...PLAINTEXT, caFile }, silent);
    const bridge = new GrpcWebBridge({
      predictAddresses: [`localhost:${predictPort}`],
      retrainAddress: `localhost:${predictPort}`,
      logger: silent,
      tls: bare,
    });
    closers.push(async () => {
      await bridge.close();
      bare.close();
    });
    const plainPort = (await bridge.listen(0, "127.0.0.1")).port;
    const body = grpcWebFrame(PredictRequest.encode({ patient: validPatient() }).finish());
    const answer = await fetch(`http://127.0.0.1:${plainPort}/liver.v1.PredictService/Predict`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: new Uint8Array(body),
    });
    const status = answer.headers.get("grpc-status") ?? grpcStatus(Buffer.from(await answer.arrayBuffer()));
    expect(status).toBe("14");
  });

  it("a renewed listener certificate reaches new connections", async () => {
    const files = writePair("rotating-bridge", await issue("bridge-first"));
    const port = await startBridge({ ...PLAINTEXT, ...files, refreshIntervalMs: 100 });
    expect(await presentedCommonName(port)).toBe("bridge-first");
    const second = await issue("bridge-second");
    // Written aside, then renamed into place, as a Secret volume update swaps files.
    writeFileSync(path.join(dir, "staged-key.pem"), second.key);
    writeFileSync(path.join(dir, "staged-cert.pem"), second.cert);
    renameSync(path.join(dir, "staged-key.pem"), files.keyFile);
    renameSync(path.join(dir, "staged-cert.pem"), files.certFile);
    await expect.poll(() => presentedCommonName(port), { timeout: 5000 }).toBe("bridge-second");
  });
});
