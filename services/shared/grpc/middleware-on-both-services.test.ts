import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { Client, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictServiceService } from "../../gen/liver/v1/predict_service.js";
import { RetrainServiceService } from "../../gen/liver/v1/retrain_service.js";
import { GRPCInferenceServiceService } from "../../gen/open_inference_grpc.js";
import { OPEN_INFERENCE_ACCESS } from "../../predict/open-inference-service.js";
import { PREDICT_ACCESS } from "../../predict/predict-service.js";
import { FakeRetrainServer } from "../../predict/testing/fake-retrain-server.js";
import { ReplicaFixture } from "../../predict/testing/replica-fixture.js";
import { startRetrainServer, type RetrainServerHandle } from "../../retrain/retrain-server.js";
import { RETRAIN_ACCESS } from "../../retrain/retrain-service.js";
import { instantTrainer } from "../../retrain/testing/instant-trainer.js";
import { tempDir, testConfig, testSigner } from "../../retrain/testing/retrain-fixtures.js";
import type { AuthConfig } from "../auth/auth-config.js";
import { MAX_BEARER_LENGTH } from "../auth/bearer-token.js";
import type { Access } from "../auth/call-gate.js";
import { mintTestToken, newTestKey, type MintOptions, type TestKey } from "../auth/testing/test-issuer.js";
import { testChannelCredentials } from "../testing/test-tls.js";

const ISSUER = "https://idp.test/realms/hospital";
const AUDIENCE = "liver-mesh";
const tmp = tempDir("middleware-both-");
const fixture = new ReplicaFixture();
let key: TestKey;
let retrain: RetrainServerHandle;
let predictPort: number;
/** Every log line of the RetrainService, parsed. */
const retrainLog: Record<string, unknown>[] = [];

function mint(options: Partial<MintOptions> = {}): Promise<string> {
  return mintTestToken(key, {
    issuer: ISSUER,
    audience: AUDIENCE,
    subject: "mallory",
    roles: ["liver-clinician", "liver-admin"],
    ...options,
  });
}

beforeAll(async () => {
  key = await newTestKey("k1");
  const file = path.join(tmp.dir, "jwks.json");
  writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
  const auth: AuthConfig = {
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { kind: "file", file },
    rolesClaim: "roles",
    clinicianRole: "liver-clinician",
    adminRole: "liver-admin",
  };
  const logger = pino(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n")) {
          if (line !== "") retrainLog.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    }),
  );
  const keys = testSigner();
  retrain = await startRetrainServer(
    testConfig(tmp.dir, keys.key, { adminToken: "break-glass-token-0123456789abcdef", auth }),
    logger,
    { trainer: instantTrainer, syntheticRows: 200, defaultMetrics: false },
  );
  await retrain.scheduler.whenIdle();
  // The replica's sign-in is checked before any model is needed: a fake with no version will do.
  const fake = new FakeRetrainServer();
  await fake.start(0);
  fixture.onClose(() => fake.stop());
  predictPort = (await fixture.replica(`127.0.0.1:${fake.port}`, { auth })).server.port;
}, 60_000);

afterAll(async () => {
  await fixture.close();
  await retrain.close();
  tmp.remove();
});

/** Every method that needs a sign-in, on both servers, with its path and port. */
function signedInMethods(): { path: string; port: () => number }[] {
  const methods: { path: string; port: () => number }[] = [];
  const add = (
    definition: Record<string, { path: string }>,
    table: Readonly<Record<string, Access>>,
    port: () => number,
  ): void => {
    for (const [name, access] of Object.entries(table)) {
      const method = definition[name];
      if (access !== "open" && method !== undefined) methods.push({ path: method.path, port });
    }
  };
  add(PredictServiceService, PREDICT_ACCESS, () => predictPort);
  add(GRPCInferenceServiceService, OPEN_INFERENCE_ACCESS, () => predictPort);
  add(RetrainServiceService, RETRAIN_ACCESS, () => retrain.port);
  return methods;
}

/** A unary call of `method` with an empty request (valid for every message type), raw bytes both ways. */
function call(port: number, method: string, metadata: Metadata): Promise<ServiceError> {
  const client = new Client(`127.0.0.1:${port}`, testChannelCredentials());
  const identity = (bytes: Buffer): Buffer => bytes;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method,
      identity,
      identity,
      Buffer.alloc(0),
      metadata,
      { deadline: Date.now() + 10_000 },
      (error) => {
        client.close();
        if (error) resolve(error);
        else reject(new Error(`${method} answered a caller it should have refused`));
      },
    );
  });
}

describe("every signed-in method of both services, through the middleware", () => {
  it("covers the clinician and admin methods of PredictService, Open Inference and RetrainService", () => {
    const paths = signedInMethods().map((m) => m.path);
    expect(paths).toContain("/liver.v1.PredictService/Predict");
    expect(paths).toContain("/liver.v1.PredictService/PredictBatch");
    expect(paths).toContain("/inference.GRPCInferenceService/ModelInfer");
    expect(paths).toContain("/liver.v1.RetrainService/SubmitFeedback");
    expect(paths).toContain("/liver.v1.RetrainService/RollbackModel");
    expect(paths.length).toBeGreaterThanOrEqual(12);
  });

  const attacks: [string, () => Promise<Metadata>, RegExp][] = [
    [
      // Node's HTTP/2 (and so grpc-js) refuses to send authorization twice; what reaches a
      // server is the single value a proxy makes of two headers, joined by a comma.
      "two authorization headers, joined by a proxy",
      async () => {
        const metadata = new Metadata();
        metadata.set("authorization", `Bearer ${await mint()}, Bearer ${await mint({ subject: "alice" })}`);
        return metadata;
      },
      /malformed/,
    ],
    [
      "a token longer than any bearer token read",
      () => {
        const metadata = new Metadata();
        metadata.set("authorization", `Bearer ${"a".repeat(MAX_BEARER_LENGTH + 1)}`);
        return Promise.resolve(metadata);
      },
      /malformed/,
    ],
    [
      "a JWT-shaped token with a 6 KB forged payload",
      () => {
        const forged = Buffer.from(JSON.stringify({ sub: "x".repeat(6_000) })).toString("base64url");
        const metadata = new Metadata();
        metadata.set("authorization", `Bearer eyJhbGciOiJFUzI1NiJ9.${forged}.c2ln`);
        return Promise.resolve(metadata);
      },
      /token/i,
    ],
    [
      "a validly signed token for another audience",
      async () => {
        const metadata = new Metadata();
        metadata.set("authorization", `Bearer ${await mint({ audience: "billing" })}`);
        return metadata;
      },
      /aud/,
    ],
  ];

  it.each(attacks)("answers %s with UNAUTHENTICATED on every one", async (_name, metadataOf, details) => {
    const metadata = await metadataOf();
    for (const method of signedInMethods()) {
      const error = await call(method.port(), method.path, metadata);
      expect(`${method.path}: ${status[error.code]} ${error.details}`).toMatch(
        `${method.path}: UNAUTHENTICATED`,
      );
      expect(error.details).toMatch(details);
    }
  });
});

describe("unknown errors", () => {
  it("reach the client as 'internal error (id …)' and the full error is in the log under that id", async () => {
    const serving = retrain.broadcaster.current?.modelVersion;
    expect(serving).toBeDefined();
    // The registered artifact's folder disappears under the server: a fault, not the caller's.
    rmSync(path.join(tmp.dir, "models", serving ?? ""), { recursive: true, force: true });
    const { path: method, requestSerialize, responseDeserialize } = RetrainServiceService.getModelArtifact;
    const client = new Client(`127.0.0.1:${retrain.port}`, testChannelCredentials());
    const error = await new Promise<ServiceError>((resolve, reject) => {
      client.makeUnaryRequest(
        method,
        requestSerialize,
        responseDeserialize,
        { modelVersion: serving ?? "" },
        new Metadata(),
        { deadline: Date.now() + 10_000 },
        (failed) => {
          client.close();
          if (failed) resolve(failed);
          else reject(new Error("GetModelArtifact answered a version whose files are gone"));
        },
      );
    });
    expect(status[error.code]).toBe("INTERNAL");
    const id = /^internal error \(id ([0-9a-f]{16})\)$/.exec(error.details)?.[1];
    expect(id, error.details).toBeDefined();
    expect(error.details).not.toContain(tmp.dir);
    const logged = retrainLog.filter((line) => line["errorId"] === id);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 50, method: "GetModelArtifact" });
    expect(JSON.stringify(logged[0]?.["err"])).toContain(tmp.dir);
  });
});
