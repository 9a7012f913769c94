/**
 * Retrain and Predict with TLS and client certificates on every hop, as the manifests run
 * them: Predict fetches its model from Retrain over mTLS (TLS_CA_FILE, its own certificate as
 * the client certificate), and callers reach Predict only with a certificate of the same CA.
 */
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials } from "@grpc/grpc-js";
import { grpcChannelCredentials } from "../shared/tls/grpc-tls-credentials.js";
import { type PkiFiles, writeThrowawayPki } from "../shared/tls/throwaway-ca.js";
import { PLAINTEXT, type TlsSettings } from "../shared/tls/tls-settings.js";
import { startRetrainServer, type RetrainServerHandle } from "../retrain/retrain-server.js";
import { testConfig } from "../retrain/testing/retrain-fixtures.js";
import { callFailure, PredictTestClient } from "./testing/predict-clients.js";
import { validPatient } from "./testing/patients.js";
import { ReplicaFixture, type TestReplica } from "./testing/replica-fixture.js";
import { waitUntil } from "./testing/wait-until.js";

const silent = pino({ level: "silent" });
const fixture = new ReplicaFixture(silent);
let pki: PkiFiles;
let retrain: RetrainServerHandle | undefined;
let replica: TestReplica;

/** The TLS settings of one identity of the throwaway PKI, with mTLS and the CA for outgoing calls. */
function tlsOf(name: string): TlsSettings {
  const files = pki.identities.get(name);
  if (files === undefined) throw new Error(`test set-up: no identity ${name}`);
  return { ...PLAINTEXT, ...files, clientCaFile: pki.caFile, caFile: pki.caFile };
}

beforeAll(async () => {
  const dir = await fixture.tempDir("mtls-mesh-");
  pki = await writeThrowawayPki(path.join(dir, "tls"), ["retrain", "predict", "client"]);
  retrain = await startRetrainServer(
    { ...testConfig(dir, fixture.signingKey), tls: tlsOf("retrain") },
    silent,
    { syntheticRows: 300, defaultMetrics: false },
  );
  fixture.onClose(() => retrain?.close());
  replica = await fixture.replica(`localhost:${retrain.port}`, {
    tls: tlsOf("predict"),
    startupFallbackMs: 60_000,
  });
});

afterAll(() => fixture.close());

describe("the mesh over mTLS", () => {
  it("Predict loads its model from Retrain over mTLS and answers a client with a certificate", async () => {
    const client = new PredictTestClient(
      `localhost:${replica.server.port}`,
      10_000,
      grpcChannelCredentials(tlsOf("client"), silent),
    );
    try {
      await waitUntil(
        "Predict SERVING over mTLS",
        async () => (await client.healthStatus()) === "SERVING",
        30_000,
      );
      const answer = await client.predict(validPatient());
      expect(answer.modelVersion).toBe("v1");
      expect(answer.feedbackToken).not.toBe("");
    } finally {
      client.close();
    }
  });

  it("a client without a certificate, or without TLS, is refused", async () => {
    const noCertificate = new PredictTestClient(
      `localhost:${replica.server.port}`,
      3_000,
      grpcChannelCredentials({ ...PLAINTEXT, caFile: pki.caFile }, silent),
    );
    const plaintext = new PredictTestClient(
      `localhost:${replica.server.port}`,
      3_000,
      credentials.createInsecure(),
    );
    try {
      expect(await callFailure(noCertificate.predict(validPatient()))).toMatchObject({
        code: 14,
        details: expect.stringMatching(/certificate/i) as string,
      });
      expect(await callFailure(plaintext.predict(validPatient()))).toMatchObject({ code: 14 });
    } finally {
      noCertificate.close();
      plaintext.close();
    }
  });
});
