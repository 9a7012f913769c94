/**
 * An admin's approval of a waiting candidate reaches every replica's swap in the trace: a real
 * RetrainService (gRPC on 127.0.0.1:0, SQLite in a temp folder, the real training worker) and
 * two real PredictService replicas following its version stream, all in this process with the
 * services' own tracing on (the SDK, its gRPC instrumentation and an OTLP/HTTP exporter to a
 * receiver here). A candidate waits for approval (APPROVAL_MAX_CLASS_CHANGE 0), an admin
 * approves it inside a trace of their own, and the test checks the ApproveModelVersion server
 * span is in that trace, its `model.approve` child names the versions, the PROMOTED event
 * carries that span's traceparent, and each replica's `model.swap` to the version links to it:
 * dropping the traceparent anywhere on the way fails it.
 */
// First: tracing must start before anything loads @grpc/grpc-js.
import { receiver, tracing } from "../shared/testing/in-process-tracing.js";
import { ROOT_CONTEXT, context, trace } from "@opentelemetry/api";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelVersionStatus } from "../gen/liver/v1/model.js";
import { ModelVersionEventKind, type RetrainServiceClient } from "../gen/liver/v1/retrain_service.js";
import { ReplicaFixture, type TestReplica } from "../predict/testing/replica-fixture.js";
import { waitUntil } from "../predict/testing/wait-until.js";
import { attribute } from "../shared/testing/otlp-receiver.js";
import type { RetrainConfig } from "./retrain-config.js";
import { startRetrainServer, type RetrainServerHandle } from "./retrain-server.js";
import { bearer, retrainClient, unary, watch } from "./testing/retrain-clients.js";
import {
  PERMISSIVE_GATE_POLICY,
  seededRandom,
  tempDir,
  testConfig,
  testSigner,
} from "./testing/retrain-fixtures.js";
import { prevalenceShiftBatch } from "./testing/prevalence-shift-batch.js";
import { WorkerTrainer } from "./training-worker.js";

const ADMIN_TOKEN = "approval-tracing-break-glass-0123";
/** Labelled verdicts that make the one run (RETRAIN_MIN_BATCH): enough to move served answers. */
const BATCH = 150;
const silent = pino({ level: "silent" });
const tmp = tempDir("approval-tracing-");
const replicas = new ReplicaFixture();
let config: RetrainConfig;
let server: RetrainServerHandle;
let client: RetrainServiceClient;
let replicaA: TestReplica;
let replicaB: TestReplica;

beforeAll(async () => {
  const keys = testSigner();
  config = testConfig(tmp.dir, keys.key, {
    adminToken: ADMIN_TOKEN,
    minBatch: BATCH,
    // Every class change waits for an admin.
    gatePolicy: { ...PERMISSIVE_GATE_POLICY, approvalMaxClassChange: 0 },
  });
  server = await startRetrainServer(config, silent, {
    trainer: WorkerTrainer.forConfig(config, silent),
    syntheticRows: 1200,
    defaultMetrics: false,
  });
  await server.scheduler.whenIdle();
  client = retrainClient(server.port);
  replicaA = await replicas.replica(`127.0.0.1:${server.port}`);
  replicaB = await replicas.replica(`127.0.0.1:${server.port}`);

  // A candidate that waits: anonymous verdicts (sign-in is off) claiming a lower prevalence.
  const batch = await prevalenceShiftBatch({
    modelPath: config.modelPath,
    modelVersion: "v1",
    count: BATCH,
    shift: -3,
    random: seededRandom(17),
    principals: [""],
  });
  for (const { record, verdict } of batch) {
    await unary(client.submitFeedback.bind(client), { feedbackToken: keys.signer.sign(record), verdict });
  }
  await server.scheduler.whenIdle();
}, 120_000);

afterAll(async () => {
  client.close();
  await replicas.close();
  await server.close();
  await tracing.shutdown();
  await receiver.close();
  tmp.remove();
});

describe("tracing an admin's approval", () => {
  it("links every replica's swap to the model.approve span in the admin call's trace", async () => {
    const listed = await unary(client.listModelVersions.bind(client), {});
    expect(listed.modelVersion).toBe("v1");
    expect(listed.versions.find((v) => v.modelVersion === "v2")?.status).toBe(
      ModelVersionStatus.MODEL_VERSION_STATUS_PENDING_APPROVAL,
    );
    for (const replica of [replicaA, replicaB]) {
      await waitUntil("the replica serving v1", () => replica.server.holder.current?.version === "v1");
    }
    const stream = watch(client);
    await stream.next((e) => e.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_CURRENT);

    // The admin's own trace: the approval call is made inside it.
    const adminSpan = trace.getTracer("approval-tracing-test").startSpan("admin approves", { root: true });
    const adminTrace = adminSpan.spanContext().traceId;
    const answer = await context.with(trace.setSpan(ROOT_CONTEXT, adminSpan), () =>
      unary(
        client.approveModelVersion.bind(client),
        { modelVersion: "v2", reason: "reviewed the class changes" },
        bearer(ADMIN_TOKEN),
      ),
    );
    adminSpan.end();
    expect(answer).toEqual({ modelVersion: "v2", previousVersion: "v1" });

    const approveCall = await waitUntil(
      "the ApproveModelVersion server span",
      () =>
        receiver.spans.find(
          (s) => s.name === "grpc.liver.v1.RetrainService/ApproveModelVersion" && s.traceId === adminTrace,
        ),
      20_000,
    );
    const approval = await waitUntil(
      "the approval's span",
      () => receiver.spans.find((s) => s.name === "model.approve" && s.parentSpanId === approveCall.spanId),
      20_000,
    );
    expect(approval.traceId).toBe(adminTrace);
    expect(attribute(approval.attributes, "model_version")).toBe("v2");
    expect(attribute(approval.attributes, "liver.previous_model_version")).toBe("v1");

    // The version stream carries the approval span's traceparent...
    const promoted = await stream.next(
      (e) => e.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED && e.modelVersion === "v2",
    );
    stream.cancel();
    expect(promoted.traceparent).toBe(`00-${approval.traceId}-${approval.spanId}-01`);

    // ...and each replica's swap to v2 links to it, and to nothing else.
    const swaps = await waitUntil(
      "both replicas' swap spans to v2",
      () => {
        const found = receiver.spans.filter(
          (s) => s.name === "model.swap" && attribute(s.attributes, "model_version") === "v2",
        );
        return found.length === 2 && found;
      },
      60_000,
    );
    for (const swap of swaps) {
      expect(swap.traceId).not.toBe(adminTrace);
      expect(swap.links?.map((l) => [l.traceId, l.spanId])).toEqual([[approval.traceId, approval.spanId]]);
    }
    for (const replica of [replicaA, replicaB]) expect(replica.server.holder.current?.version).toBe("v2");
  });
});
