/**
 * The "tls" vitest project really runs on TLS (scripts/test-matrix.ts lists this file for that
 * project only): every kind of server the fixtures start (RetrainService and a Predict replica
 * in-process, a RetrainService child process, the fake Retrain, the grpc-web bridge) refuses a
 * plaintext client, and a TLS client without a client certificate, while the fixtures' own
 * clients are answered. Were the project's environment lost, the fixtures would fall back to
 * plaintext and this file would fail rather than pass.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { credentials, status, type ChannelCredentials } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GetRetrainStatusRequest,
  GetRetrainStatusResponse,
  RetrainServiceClient,
} from "../../gen/liver/v1/retrain_service.js";
import { grpcWebCall } from "../../../gateway/bridge/testing/grpc-web-fetch-client.js";
import { TestGrpcWebBridge } from "../../../gateway/bridge/testing/test-bridge.js";
import { type ChildService, startRetrainProcess } from "../../predict/testing/child-service.js";
import { FakeRetrainServer } from "../../predict/testing/fake-retrain-server.js";
import { callFailure, PredictTestClient } from "../../predict/testing/predict-clients.js";
import { validPatient } from "../../predict/testing/patients.js";
import { ReplicaFixture, type TestReplica } from "../../predict/testing/replica-fixture.js";
import { waitUntil } from "../../predict/testing/wait-until.js";
import { startRetrainServer, type RetrainServerHandle } from "../../retrain/retrain-server.js";
import { retrainClient, unary } from "../../retrain/testing/retrain-clients.js";
import { testConfig } from "../../retrain/testing/retrain-fixtures.js";
import { checkHealth } from "../grpc/health-probe.js";
import {
  requireTestPki,
  testChannelCredentials,
  testHealthCheck,
  testServerTls,
  testTlsEnabled,
} from "./test-tls.js";

const silent = pino({ level: "silent" });
const fixture = new ReplicaFixture(silent);
let retrain: RetrainServerHandle;
let replica: TestReplica;
let child: ChildService | undefined;
let fake: FakeRetrainServer;

/** A Retrain status call with `channelCredentials` to 127.0.0.1:port; its failure code, or "answered". */
async function retrainStatusWith(
  port: number,
  channelCredentials: ChannelCredentials,
): Promise<number | string> {
  const client = new RetrainServiceClient(`127.0.0.1:${port}`, channelCredentials);
  try {
    await unary(client.getRetrainStatus.bind(client), {});
    return "answered";
  } catch (error) {
    return (error as { code: number }).code;
  } finally {
    client.close();
  }
}

/** TLS that trusts the run's CA but shows no client certificate. */
function withoutClientCertificate(): ChannelCredentials {
  return credentials.createSsl(readFileSync(requireTestPki().caFile));
}

const { UNAVAILABLE, UNIMPLEMENTED } = status;

beforeAll(async () => {
  const dir = await fixture.tempDir("tls-matrix-");
  retrain = await startRetrainServer(testConfig(dir, fixture.signingKey), silent, {
    syntheticRows: 300,
    defaultMetrics: false,
  });
  fixture.onClose(() => retrain.close());
  replica = await fixture.replica(`127.0.0.1:${retrain.port}`, { startupFallbackMs: 60_000 });
  fake = new FakeRetrainServer();
  await fake.start(0);
  fixture.onClose(() => fake.stop());
  child = await startRetrainProcess({
    RETRAIN_PORT: "0",
    RETRAIN_METRICS_PORT: "0",
    DATA_PATH: path.join(dir, "child-data"),
    MODEL_PATH: path.join(dir, "child-models"),
    FEEDBACK_SIGNING_KEY: fixture.signingKey.toString("hex"),
  });
  fixture.onClose(async () => {
    await child?.stop();
  });
});

afterAll(() => fixture.close());

describe("the tls project's fixtures", () => {
  it("are on: the run's PKI is there and test servers get TLS settings with client certificates required", () => {
    expect(testTlsEnabled()).toBe(true);
    const pki = requireTestPki();
    expect(testServerTls()).toMatchObject({
      certFile: pki.service.certFile,
      keyFile: pki.service.keyFile,
      clientCaFile: pki.caFile,
      caFile: pki.caFile,
    });
  });

  it("RetrainService in-process: answers the fixture client, refuses plaintext and certificate-less TLS", async () => {
    expect(await retrainStatusWith(retrain.port, credentials.createInsecure())).toBe(UNAVAILABLE);
    expect(await retrainStatusWith(retrain.port, withoutClientCertificate())).toBe(UNAVAILABLE);
    const client = retrainClient(retrain.port);
    try {
      expect((await unary(client.getRetrainStatus.bind(client), {})).originalRows).toBe(300);
    } finally {
      client.close();
    }
    expect(await checkHealth(`127.0.0.1:${retrain.port}`, "", 2_000)).toBe("UNREACHABLE");
    expect(await testHealthCheck(`127.0.0.1:${retrain.port}`, "", 2_000)).toBe("SERVING");
  });

  it("a Predict replica loads its model from that Retrain (which takes mTLS only) and refuses plaintext", async () => {
    await waitUntil(
      "the replica SERVING",
      async () => (await replica.client.healthStatus()) === "SERVING",
      60_000,
    );
    expect((await replica.client.predict(validPatient())).modelVersion).toBe("v1");
    const plaintext = new PredictTestClient(
      `127.0.0.1:${replica.server.port}`,
      3_000,
      credentials.createInsecure(),
    );
    const noCertificate = new PredictTestClient(
      `127.0.0.1:${replica.server.port}`,
      3_000,
      withoutClientCertificate(),
    );
    try {
      expect(await callFailure(plaintext.predict(validPatient()))).toMatchObject({ code: UNAVAILABLE });
      expect(await callFailure(noCertificate.predict(validPatient()))).toMatchObject({ code: UNAVAILABLE });
    } finally {
      plaintext.close();
      noCertificate.close();
    }
  });

  it("RetrainService as a child process and the fake Retrain refuse plaintext", async () => {
    const childPort = child?.port ?? 0;
    expect(await checkHealth(`127.0.0.1:${childPort}`, "", 2_000)).toBe("UNREACHABLE");
    expect(await retrainStatusWith(childPort, credentials.createInsecure())).toBe(UNAVAILABLE);
    expect(await retrainStatusWith(childPort, withoutClientCertificate())).toBe(UNAVAILABLE);
    expect(await testHealthCheck(`127.0.0.1:${childPort}`, "", 2_000)).not.toBe("UNREACHABLE");
    expect(await checkHealth(`127.0.0.1:${fake.port}`, "", 2_000)).toBe("UNREACHABLE");
    expect(await retrainStatusWith(fake.port, withoutClientCertificate())).toBe(UNAVAILABLE);
    // The fake answers only what Predict uses; UNIMPLEMENTED means the TLS handshake succeeded.
    expect(await retrainStatusWith(fake.port, testChannelCredentials())).toBe(UNIMPLEMENTED);
  });

  it("the bridge serves HTTPS only and reaches Retrain over mTLS", async () => {
    const bridge = new TestGrpcWebBridge({
      predictAddresses: [`127.0.0.1:${replica.server.port}`],
      retrainAddress: `127.0.0.1:${retrain.port}`,
      logger: silent,
    });
    try {
      const { port } = await bridge.listen(0, "127.0.0.1");
      expect(TestGrpcWebBridge.url(port)).toBe(`https://127.0.0.1:${port}`);
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
      const reply = await grpcWebCall(
        TestGrpcWebBridge.url(port),
        "/liver.v1.RetrainService/GetRetrainStatus",
        GetRetrainStatusRequest.encode({}).finish(),
      );
      expect(reply.code).toBe(0);
      expect(GetRetrainStatusResponse.decode(reply.messages[0] ?? new Uint8Array()).originalRows).toBe(300);
    } finally {
      await bridge.close();
    }
  });
});
