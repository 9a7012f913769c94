import { writeFileSync } from "node:fs";
import path from "node:path";
import { Metadata, status } from "@grpc/grpc-js";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeedbackVerdict, type RetrainServiceClient } from "../gen/liver/v1/retrain_service.js";
import {
  mintTestToken,
  newTestKey,
  type MintOptions,
  type TestKey,
} from "../shared/auth/testing/test-issuer.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { startRetrainServer, type RetrainServerHandle } from "./retrain-server.js";
import { instantTrainer } from "./testing/instant-trainer.js";
import { bearer, expectStatus, failure, retrainClient, unary } from "./testing/retrain-clients.js";
import { prediction, tempDir, testConfig, testSigner } from "./testing/retrain-fixtures.js";

const ISSUER = "https://idp.test/realms/hospital";
const AUDIENCE = "liver-mesh";
const ADMIN_TOKEN = "break-glass-token-0123456789abcdef";
const CORRECT = FeedbackVerdict.FEEDBACK_VERDICT_CORRECT;

let key: TestKey;
let server: RetrainServerHandle;
let client: RetrainServiceClient;
let signer: FeedbackTokenSigner;
const tmp = tempDir("retrain-auth-");
/** Every log line of the server, parsed: the audit entries are asserted. */
const logLines: Record<string, unknown>[] = [];
const logger = pino(
  { level: "info" },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line !== "") logLines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  }),
);

function mint(options: Partial<MintOptions> = {}): Promise<string> {
  return mintTestToken(key, {
    issuer: ISSUER,
    audience: AUDIENCE,
    subject: "alice",
    roles: ["liver-clinician"],
    ...options,
  });
}

function submit(feedbackToken: string, metadata = new Metadata()) {
  return unary(client.submitFeedback.bind(client), { feedbackToken, verdict: CORRECT }, metadata);
}

beforeAll(async () => {
  key = await newTestKey("k1");
  const file = path.join(tmp.dir, "jwks.json");
  writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
  const keys = testSigner();
  signer = keys.signer;
  server = await startRetrainServer(
    testConfig(tmp.dir, keys.key, {
      adminToken: ADMIN_TOKEN,
      auth: {
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: { kind: "file", file },
        rolesClaim: "roles",
        clinicianRole: "liver-clinician",
        adminRole: "liver-admin",
      },
    }),
    logger,
    { trainer: instantTrainer, syntheticRows: 200, defaultMetrics: false },
  );
  await server.scheduler.whenIdle();
  client = retrainClient(server.port);
});

afterAll(async () => {
  client.close();
  await server.close();
  tmp.remove();
});

describe("RetrainService with AUTH_ISSUER set", () => {
  it("refuses SubmitFeedback without a token, and with a token lacking the clinician role", async () => {
    expectStatus(
      await failure(submit(signer.sign(prediction()))),
      status.UNAUTHENTICATED,
      /SubmitFeedback requires authentication: send the metadata 'authorization: Bearer/,
    );
    expectStatus(
      await failure(submit(signer.sign(prediction()), bearer(await mint({ roles: ["billing"] })))),
      status.PERMISSION_DENIED,
      /SubmitFeedback needs the liver-clinician \(or liver-admin\) role/,
    );
    expectStatus(
      await failure(submit(signer.sign(prediction()), bearer(await mint({ audience: "other" })))),
      status.UNAUTHENTICATED,
      /wrong audience "other"/,
    );
  });

  it("accepts feedback only from the principal the prediction was made for, or an admin", async () => {
    const alice = bearer(await mint({ subject: "alice" }));
    const bob = bearer(await mint({ subject: "bob" }));
    const forAlice = () => signer.sign(prediction({ principal: `${ISSUER}|alice` }));
    const mine = forAlice();
    expect((await submit(mine, alice)).duplicate).toBe(false);
    expectStatus(
      await failure(submit(forAlice(), bob)),
      status.PERMISSION_DENIED,
      /^feedback_token belongs to a prediction made for another principal; only the clinician who received the prediction \(or an admin\)/,
    );
    // A replay of alice's token by bob is refused before the duplicate check, too.
    expectStatus(await failure(submit(mine, bob)), status.PERMISSION_DENIED, /another principal/);
    const admin = bearer(await mint({ subject: "ops", roles: ["liver-admin"] }));
    expect((await submit(forAlice(), admin)).duplicate).toBe(false);
  });

  it("refuses a clinician's feedback on a prediction made without a signed-in caller", async () => {
    expectStatus(
      await failure(submit(signer.sign(prediction()), bearer(await mint()))),
      status.PERMISSION_DENIED,
      /made without a signed-in caller; only an admin may/,
    );
  });

  it("keeps the read-only methods Predict replicas and the page use open", async () => {
    const statusResponse = await unary(client.getRetrainStatus.bind(client), {});
    expect(statusResponse.modelVersion).toMatch(/^v\d+$/);
    const listed = await unary(client.listModelVersions.bind(client), {});
    expect(listed.versions.length).toBeGreaterThan(0);
  });

  it("admin RPCs: a clinician's JWT is PERMISSION_DENIED, an admin's JWT and the break-glass token pass", async () => {
    expectStatus(
      await failure(unary(client.triggerRetrain.bind(client), { reason: "x" }, bearer(await mint()))),
      status.PERMISSION_DENIED,
      /TriggerRetrain needs the liver-admin role/,
    );
    const admin = bearer(await mint({ subject: "ops", roles: ["liver-admin"] }));
    expect((await unary(client.triggerRetrain.bind(client), { reason: "by jwt" }, admin)).scheduled).toBe(
      true,
    );
    await server.scheduler.whenIdle();
    expect(
      (await unary(client.triggerRetrain.bind(client), { reason: "by glass" }, bearer(ADMIN_TOKEN)))
        .scheduled,
    ).toBe(true);
    await server.scheduler.whenIdle();
    // The audit log names who acted: the admin's principal, or break-glass.
    const audits = logLines.filter((line) => line["audit"] === "TriggerRetrain");
    expect(audits.map((line) => [line["principal"], line["reason"]])).toEqual([
      [`${ISSUER}|ops`, "by jwt"],
      ["break-glass", "by glass"],
    ]);
    expect(logLines.some((line) => String(line["msg"]).startsWith("break-glass: TriggerRetrain"))).toBe(true);
    expectStatus(
      await failure(unary(client.rollbackModel.bind(client), { modelVersion: "v1", reason: "" })),
      status.UNAUTHENTICATED,
      /RollbackModel is an admin RPC and requires authentication/,
    );
  });
});
