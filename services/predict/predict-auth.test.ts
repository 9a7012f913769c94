import { writeFile } from "node:fs/promises";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig } from "../shared/auth/auth-config.js";
import {
  mintTestToken,
  newTestKey,
  type MintOptions,
  type TestKey,
} from "../shared/auth/testing/test-issuer.js";
import { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { FakeRetrainServer } from "./testing/fake-retrain-server.js";
import { callFailure, type PredictTestClient } from "./testing/predict-clients.js";
import { validPatient } from "./testing/patients.js";
import { ReplicaFixture } from "./testing/replica-fixture.js";
import { trainTestArtifact } from "./testing/test-artifacts.js";

const ISSUER = "https://idp.test/realms/hospital";
const AUDIENCE = "liver-mesh";
const fixture = new ReplicaFixture();
let key: TestKey;
let client: PredictTestClient;

function mint(options: Partial<MintOptions> = {}): Promise<string> {
  return mintTestToken(key, {
    issuer: ISSUER,
    audience: AUDIENCE,
    subject: "alice",
    roles: ["liver-clinician"],
    ...options,
  });
}

beforeAll(async () => {
  key = await newTestKey("k1");
  const dir = await fixture.tempDir("predict-auth-");
  const file = path.join(dir, "jwks.json");
  await writeFile(file, JSON.stringify({ keys: [key.publicJwk] }));
  const auth: AuthConfig = {
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { kind: "file", file },
    rolesClaim: "roles",
    clinicianRole: "liver-clinician",
    adminRole: "liver-admin",
  };
  const fake = new FakeRetrainServer();
  fake.promote(await trainTestArtifact("v1", 21));
  await fake.start(0);
  fixture.onClose(() => fake.stop());
  const replica = await fixture.replica(`127.0.0.1:${fake.port}`, { auth });
  client = replica.client;
  await replica.server.holder.waitFor((m) => m.version === "v1", 60_000);
});

afterAll(() => fixture.close());

describe("PredictService with AUTH_ISSUER set", () => {
  it("refuses Predict and PredictBatch without a token: UNAUTHENTICATED saying what to send", async () => {
    client.bearerToken = undefined;
    for (const call of [client.predict(validPatient()), client.predictBatch([validPatient()])]) {
      const failure = await callFailure(call);
      expect(failure.code).toBe(status.UNAUTHENTICATED);
      expect(failure.details).toMatch(/requires authentication: send the metadata 'authorization: Bearer/);
    }
  });

  it("answers a clinician and an admin", async () => {
    client.bearerToken = await mint();
    expect((await client.predict(validPatient())).modelVersion).toBe("v1");
    expect((await client.predictBatch([validPatient(), validPatient()])).results).toHaveLength(2);
    client.bearerToken = await mint({ subject: "root", roles: ["liver-admin"] });
    expect((await client.predict(validPatient())).modelVersion).toBe("v1");
  });

  it("refuses an expired token as UNAUTHENTICATED and a token without the role as PERMISSION_DENIED", async () => {
    client.bearerToken = await mint({ expiresInS: -600 });
    const expired = await callFailure(client.predict(validPatient()));
    expect([expired.code, expired.details]).toEqual([
      status.UNAUTHENTICATED,
      expect.stringMatching(/expired/),
    ]);
    client.bearerToken = await mint({ roles: ["billing"] });
    const denied = await callFailure(client.predictBatch([validPatient()]));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    expect(denied.details).toMatch(/PredictBatch needs the liver-clinician \(or liver-admin\) role/);
  });

  it("keeps GetModelInfo and health open", async () => {
    client.bearerToken = undefined;
    expect((await client.modelInfo()).modelVersion).toBe("v1");
    expect(await client.healthStatus()).toBe("SERVING");
  });

  it("signs tokens the shared signer verifies", async () => {
    client.bearerToken = await mint();
    const answer = await client.predict(validPatient());
    expect(new FeedbackTokenSigner(fixture.signingKey).verify(answer.feedbackToken).predictionId).toBe(
      answer.predictionId,
    );
  });
});
