/**
 * OpenTelemetry traces across real processes: RetrainService, a PredictService replica and the
 * grpc-web bridge as child processes exporting OTLP/HTTP (JSON) to a receiver in this test.
 * One Predict from the page's own API code (which starts its trace) goes through the bridge;
 * its feedback token comes back from the page as a verdict; the verdict's retrain promotes a version and the replica
 * swaps to it. The test checks one connected trace per request and the links
 * verdict -> run -> promotion -> swap, the stages the trainer worker timed as children of the
 * run's training span, that an admin's rollback reaches the replica's swap the same way, and
 * that log lines carry trace_id and span_id.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictRequest, PredictResponse } from "../../gen/liver/v1/predict_service.js";
import {
  FeedbackVerdict,
  SubmitFeedbackRequest,
  SubmitFeedbackResponse,
} from "../../gen/liver/v1/retrain_service.js";
import type { PatientFeatures } from "../../gen/liver/v1/patient.js";
import { grpcWebCall } from "../../../gateway/bridge/testing/grpc-web-fetch-client.js";
import { newTraceparent } from "../../../gateway/web/src/trace-context.js";
import { bearer, retrainClient, unary } from "../../retrain/testing/retrain-clients.js";
import { PROMOTE_EVERY_CANDIDATE_ENV } from "../../retrain/testing/retrain-fixtures.js";
import {
  ChildService,
  startPredictProcess,
  startRetrainProcess,
} from "../../predict/testing/child-service.js";
import { validPatient } from "../../predict/testing/patients.js";
import { OpenInferenceTestClient, inferRequest } from "../../predict/testing/open-inference-client.js";
import { waitUntil } from "../../predict/testing/wait-until.js";
import { OtlpReceiver, attribute } from "../testing/otlp-receiver.js";

const receiver = new OtlpReceiver();
const spans = receiver.spans;

let dir: string;
const children: ChildService[] = [];
let retrain: ChildService;
let predict: ChildService;
let bridge: ChildService;
const signingKey = randomBytes(32).toString("hex");
const adminToken = randomBytes(16).toString("hex");

beforeAll(async () => {
  const endpoint = await receiver.listen();
  dir = await mkdtemp(path.join(tmpdir(), "tracing-test-"));
  const otel = (service: string): Record<string, string> => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_SERVICE_NAME: service,
    OTEL_BSP_SCHEDULE_DELAY: "50",
  });
  retrain = await startRetrainProcess({
    RETRAIN_PORT: "0",
    RETRAIN_METRICS_PORT: "0",
    DATA_PATH: path.join(dir, "data"),
    MODEL_PATH: path.join(dir, "models"),
    FEEDBACK_SIGNING_KEY: signingKey,
    ADMIN_TOKEN: adminToken,
    ...PROMOTE_EVERY_CANDIDATE_ENV,
    RETRAIN_DEBOUNCE_MS: "0",
    RETRAIN_MIN_BATCH: "1",
    HEARTBEAT_INTERVAL_MS: "1000",
    ...otel("test-retrain"),
  });
  children.push(retrain);
  predict = await startPredictProcess({
    RETRAIN_ADDR: `127.0.0.1:${retrain.port}`,
    MODEL_CACHE_PATH: path.join(dir, "cache"),
    FEEDBACK_SIGNING_KEY: signingKey,
    ...otel("test-predict"),
  });
  children.push(predict);
  bridge = await ChildService.start({
    entry: "gateway/bridge/main.ts",
    env: {
      GATEWAY_HOST: "127.0.0.1",
      GATEWAY_PORT: "0",
      PREDICT_ADDRS: `127.0.0.1:${predict.port}`,
      RETRAIN_ADDR: `127.0.0.1:${retrain.port}`,
      WEB_ROOT: dir,
      ...otel("test-bridge"),
    },
    readyMessage: "gateway ready",
  });
  children.push(bridge);
}, 120_000);

afterAll(async () => {
  for (const child of children.reverse()) await child.stop();
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * The page's two traced calls as the browser sends them: grpc-web through the bridge, each
 * with a new traceparent from the page's own trace-context.ts (the page's grpc-web library
 * needs a browser; e2e.test.ts checks that the page really sends these headers).
 */
function pageCalls(base: string): {
  traceparents: string[];
  predict: (patient: PatientFeatures) => Promise<PredictResponse>;
  submitFeedback: (feedbackToken: string, verdict: FeedbackVerdict) => Promise<SubmitFeedbackResponse>;
} {
  const traceparents: string[] = [];
  async function call<Res>(
    path: string,
    request: Uint8Array,
    decode: (bytes: Uint8Array) => Res,
  ): Promise<Res> {
    const traceparent = newTraceparent();
    traceparents.push(traceparent);
    const reply = await grpcWebCall(base, path, request, { headers: { traceparent } });
    const [message] = reply.messages;
    if (reply.code !== 0 || message === undefined) throw new Error(`${path}: ${reply.code} ${reply.message}`);
    return decode(message);
  }
  return {
    traceparents,
    predict: (patient) =>
      call("/liver.v1.PredictService/Predict", PredictRequest.encode({ patient }).finish(), (bytes) =>
        PredictResponse.decode(bytes),
      ),
    submitFeedback: (feedbackToken, verdict) =>
      call(
        "/liver.v1.RetrainService/SubmitFeedback",
        SubmitFeedbackRequest.encode({ feedbackToken, verdict }).finish(),
        (bytes) => SubmitFeedbackResponse.decode(bytes),
      ),
  };
}

describe("tracing with OTEL_EXPORTER_OTLP_ENDPOINT set", () => {
  it("follows one Predict from the page through the bridge, its verdict, the retrain and the swap", async () => {
    const page = pageCalls(`http://127.0.0.1:${bridge.port}`);
    const patient = validPatient();
    // The replica has its first model once Predict answers.
    let answer: PredictResponse | undefined;
    await waitUntil(
      "the replica answering through the bridge",
      async () => {
        try {
          answer = await page.predict(patient);
          return true;
        } catch {
          return false;
        }
      },
      60_000,
      50,
    );
    if (answer === undefined) throw new Error("no answer");
    const servedVersion = answer.modelVersion;
    // The page started a new trace for each call; the answered call was the last one.
    const [, pageTrace, pageSpan, flags] = (page.traceparents.at(-1) ?? "").split("-");
    expect(flags).toBe("01");

    // The page's trace: the bridge's span is the page span's child, Predict's server span the
    // bridge's.
    const predictSpan = await waitUntil(
      "Predict's server span of the answered call",
      () => spans.find((s) => s.service === "test-predict" && s.traceId === pageTrace),
      20_000,
    );
    const bridgeSpan = await waitUntil(
      "the bridge's span",
      () =>
        spans.find(
          (s) =>
            s.service === "test-bridge" && s.traceId === pageTrace && s.spanId === predictSpan.parentSpanId,
        ),
      20_000,
    );
    expect(bridgeSpan.parentSpanId).toBe(pageSpan);
    expect(predictSpan.name).toBe("grpc.liver.v1.PredictService/Predict");
    expect(attribute(predictSpan.attributes, "model_version")).toBe(servedVersion);
    expect(attribute(predictSpan.attributes, "liver.site")).toBe("default");

    // The verdict, from the page too, in a trace of its own.
    await page.submitFeedback(answer.feedbackToken, FeedbackVerdict.FEEDBACK_VERDICT_WRONG);
    const [, verdictTrace, verdictPageSpan] = (page.traceparents.at(-1) ?? "").split("-");
    expect(verdictTrace).not.toBe(pageTrace);
    const verdict = await waitUntil(
      "the verdict's span",
      () =>
        spans.find(
          (s) =>
            s.service === "test-retrain" && s.traceId === verdictTrace && s.name.endsWith("SubmitFeedback"),
        ),
      20_000,
    );
    // Each process exports on its own schedule: the bridge's span may come after Retrain's.
    const verdictBridge = await waitUntil(
      "the bridge's span of the verdict",
      () => spans.find((s) => s.spanId === verdict.parentSpanId),
      20_000,
    );
    expect(verdictBridge.service).toBe("test-bridge");
    expect(verdictBridge.parentSpanId).toBe(verdictPageSpan);

    // The run that trained on it: a new trace, linked to the verdict.
    const run = await waitUntil(
      "the retrain run's span",
      () =>
        spans.find(
          (s) => s.name === "retrain.run" && (s.links ?? []).some((l) => l.spanId === verdict.spanId),
        ),
      60_000,
    );
    const newVersion = attribute(run.attributes, "model_version");
    expect(attribute(run.attributes, "liver.run.outcome")).toBe("promoted");
    expect(newVersion).not.toBe(servedVersion);
    const train = spans.find((s) => s.name === "retrain.train" && s.parentSpanId === run.spanId);
    expect(train?.traceId).toBe(run.traceId);

    // The stages the worker thread timed, children of the training span, in order.
    const stages = spans
      .filter((s) => s.parentSpanId === train?.spanId)
      .sort((a, b) => Number(BigInt(a.startTimeUnixNano ?? "0") - BigInt(b.startTimeUnixNano ?? "0")));
    expect(stages.map((s) => s.name)).toEqual([
      "train.load",
      "train.reference_models",
      "train.prepare_rows",
      "train.split",
      "train.fit_pipeline",
      "train.train",
      "train.evaluate",
      "train.build_artifact",
      "train.write_artifact",
      "train.gate_evidence",
    ]);
    for (const stage of stages) {
      expect(stage.traceId).toBe(run.traceId);
      expect(attribute(stage.attributes, "model_version")).toBe(newVersion);
    }

    // The promotion, in the run's trace, names the version.
    const promotion = await waitUntil(
      "the promotion's span",
      () => spans.find((s) => s.name === "model.promote" && s.parentSpanId === run.spanId),
      20_000,
    );
    expect(attribute(promotion.attributes, "model_version")).toBe(newVersion);

    // The replica's swap to that version, linked to the promotion.
    const swap = await waitUntil(
      "the replica's swap span",
      () =>
        spans.find(
          (s) =>
            s.service === "test-predict" &&
            s.name === "model.swap" &&
            attribute(s.attributes, "model_version") === newVersion,
        ),
      60_000,
    );
    expect(swap.links?.map((l) => [l.traceId, l.spanId])).toEqual([[promotion.traceId, promotion.spanId]]);

    // The version served before is now an older one: an Open Inference call naming it makes
    // the replica fetch it from Retrain inside the call's trace (after an await, so the
    // replica carries the context over itself: services/predict/model-version-library.ts).
    const oipTrace = randomBytes(16).toString("hex");
    const oip = new OpenInferenceTestClient(`127.0.0.1:${predict.port}`);
    oip.traceparent = `00-${oipTrace}-${randomBytes(8).toString("hex")}-01`;
    try {
      const older = await oip.modelInfer(inferRequest([patient], { version: servedVersion }));
      expect(older.modelVersion).toBe(servedVersion);
    } finally {
      oip.close();
    }
    const inferSpan = await waitUntil(
      "Predict's ModelInfer span",
      () => spans.find((s) => s.traceId === oipTrace && s.name.endsWith("/ModelInfer")),
      20_000,
    );
    // The span names the version that answered (set after the fetch), not the serving one.
    expect(attribute(inferSpan.attributes, "model_version")).toBe(servedVersion);
    const fetchCall = await waitUntil(
      "Predict's GetModelArtifact call in that trace",
      () =>
        spans.find(
          (s) =>
            s.service === "test-predict" && s.traceId === oipTrace && s.name.endsWith("/GetModelArtifact"),
        ),
      20_000,
    );
    expect(fetchCall.parentSpanId).toBe(inferSpan.spanId);
    const fetchServed = await waitUntil(
      "Retrain's GetModelArtifact span, the call's child",
      () => spans.find((s) => s.service === "test-retrain" && s.parentSpanId === fetchCall.spanId),
      20_000,
    );
    expect(fetchServed.traceId).toBe(oipTrace);

    // An admin's rollback to the first version: its span names the version and the replica's
    // swap back links to it, as to a promotion.
    const rollbackTrace = randomBytes(16).toString("hex");
    const admin = bearer(adminToken);
    admin.set("traceparent", `00-${rollbackTrace}-${randomBytes(8).toString("hex")}-01`);
    const adminClient = retrainClient(retrain.port);
    try {
      await unary(
        adminClient.rollbackModel.bind(adminClient),
        { modelVersion: servedVersion, reason: "" },
        admin,
      );
    } finally {
      adminClient.close();
    }
    const rollbackCall = await waitUntil(
      "the RollbackModel call's span",
      () => spans.find((s) => s.traceId === rollbackTrace && s.name.endsWith("/RollbackModel")),
      20_000,
    );
    const rollback = await waitUntil(
      "the rollback's span",
      () => spans.find((s) => s.name === "model.rollback" && s.traceId === rollbackTrace),
      20_000,
    );
    expect(rollback.parentSpanId).toBe(rollbackCall.spanId);
    expect(attribute(rollback.attributes, "model_version")).toBe(servedVersion);
    expect(attribute(rollback.attributes, "liver.previous_model_version")).toBe(newVersion);
    const swapBack = await waitUntil(
      "the replica's swap back",
      () =>
        spans.find(
          (s) =>
            s.service === "test-predict" &&
            s.name === "model.swap" &&
            (s.links ?? []).some((l) => l.spanId === rollback.spanId),
        ),
      60_000,
    );
    expect(attribute(swapBack.attributes, "model_version")).toBe(servedVersion);
    expect(swapBack.links?.map((l) => l.traceId)).toEqual([rollbackTrace]);

    // Log lines written inside a span carry its ids.
    const started = retrain
      .output()
      .split("\n")
      .find((line) => line.includes("retrain run started") && line.includes(run.traceId));
    expect(started).toContain(`"trace_id":"${run.traceId}"`);
    expect(started).toMatch(/"span_id":"[0-9a-f]{16}"/);
  }, 180_000);
});
