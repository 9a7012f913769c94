/**
 * traceUnaryCalls on a real grpc-js server: the SDK's parent-based sampler decides, a sampled
 * call gets the server span the gRPC instrumentation would make (name, kind, rpc.*, status,
 * parent, the service's attributes), an unsampled new trace gets nothing, and an unsampled
 * caller's context still reaches the handler.
 */
import { randomBytes } from "node:crypto";
import { type SpanContext, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  ParentBasedSampler,
  SamplingDecision,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { Metadata, Server, ServerCredentials, type ServiceError, credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type PredictRequest,
  PredictResponse,
  PredictServiceClient,
  PredictServiceService,
} from "../../gen/liver/v1/predict_service.js";
import { validPatient } from "../../predict/testing/patients.js";
import { NewTraceSampling } from "./new-trace-sampling.js";
import { traceUnaryCalls } from "./server-call-tracing.js";

const exporter = new InMemorySpanExporter();
let sampleNewTraces = false;
const sampler = new ParentBasedSampler({
  root: {
    shouldSample: () => ({
      decision: sampleNewTraces ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD,
    }),
    toString: () => "test root sampler",
  },
});
/** As tracing.ts sets a process up: the sampler decides a new trace before its span is made. */
const sampling = new NewTraceSampling(sampler);
const provider = new NodeTracerProvider({
  sampler,
  idGenerator: sampling,
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
provider.register();

/** The span context each handler saw as active, in call order. */
const seen: (SpanContext | undefined)[] = [];
/** One server whose new traces are decided before the span, one where the tracer decides. */
const servers = [new Server(), new Server()];
const clients: PredictServiceClient[] = [];

beforeAll(async () => {
  for (const [i, server] of servers.entries()) {
    server.addService(
      PredictServiceService,
      traceUnaryCalls(
        PredictServiceService,
        {
          predict: (
            call: { request: PredictRequest },
            callback: (error: Partial<ServiceError> | null, response?: PredictResponse) => void,
          ) => {
            seen.push(trace.getActiveSpan()?.spanContext());
            if (call.request.patient === undefined) {
              callback({ code: status.INVALID_ARGUMENT, details: "patient is required" });
            } else {
              callback(null, PredictResponse.fromPartial({ modelVersion: "v7" }));
            }
          },
        },
        () => ({ model_version: "v7" }),
        i === 0 ? sampling : undefined,
      ),
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    clients.push(new PredictServiceClient(`127.0.0.1:${port}`, credentials.createInsecure()));
  }
});

afterAll(async () => {
  for (const client of clients) client.close();
  for (const server of servers) await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  await provider.shutdown();
});

beforeEach(() => {
  exporter.reset();
  seen.length = 0;
  sampleNewTraces = false;
});

const patient = validPatient();

describe.each([
  ["the sampler decides new traces before any span (tracing.ts's setup)", 0],
  ["the tracer decides (a provider set up elsewhere)", 1],
])("traceUnaryCalls, %s", (_name, which) => {
  function predict(request: PredictRequest, traceparent?: string): Promise<ServiceError | null> {
    const client = clients[which];
    if (client === undefined) throw new Error("no client");
    const metadata = new Metadata();
    if (traceparent !== undefined) metadata.set("traceparent", traceparent);
    return new Promise((resolve) => client.predict(request, metadata, (error) => resolve(error)));
  }

  it("records a call whose caller's trace is sampled, as the caller's span's child", async () => {
    const traceId = randomBytes(16).toString("hex");
    const parentId = randomBytes(8).toString("hex");
    expect(await predict({ patient }, `00-${traceId}-${parentId}-01`)).toBeNull();
    const [span, ...others] = exporter.getFinishedSpans();
    expect(others).toEqual([]);
    expect(span?.name).toBe("grpc.liver.v1.PredictService/Predict");
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.spanContext().traceId).toBe(traceId);
    expect(span?.parentSpanContext?.spanId).toBe(parentId);
    expect(span?.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "liver.v1.PredictService",
      "rpc.method": "Predict",
      "rpc.grpc.status_code": 0,
      model_version: "v7",
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    // The handler ran inside the span: its log lines and calls carry it.
    expect(seen[0]?.spanId).toBe(span?.spanContext().spanId);
  });

  it("records the status of a failed call", async () => {
    sampleNewTraces = true;
    const error = await predict({ patient: undefined });
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes["rpc.grpc.status_code"]).toBe(status.INVALID_ARGUMENT);
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: "patient is required" });
  });

  it("starts a new trace when the sampler says so and the caller sent none", async () => {
    sampleNewTraces = true;
    expect(await predict({ patient })).toBeNull();
    const [span] = exporter.getFinishedSpans();
    expect(span?.parentSpanContext).toBeUndefined();
    expect(seen[0]?.traceId).toBe(span?.spanContext().traceId);
  });

  it("records nothing and enters no context for an unsampled new trace", async () => {
    expect(await predict({ patient })).toBeNull();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(seen).toEqual([undefined]);
  });

  it("records nothing for an unsampled caller's trace, but the handler runs in it", async () => {
    const traceId = randomBytes(16).toString("hex");
    expect(await predict({ patient }, `00-${traceId}-${randomBytes(8).toString("hex")}-00`)).toBeNull();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(seen[0]?.traceId).toBe(traceId);
  });

  it("ignores a malformed traceparent and decides as for a new trace", async () => {
    expect(await predict({ patient }, "00-not-a-trace-01")).toBeNull();
    expect(exporter.getFinishedSpans()).toEqual([]);
    sampleNewTraces = true;
    expect(await predict({ patient }, "zz")).toBeNull();
    expect(exporter.getFinishedSpans()[0]?.parentSpanContext).toBeUndefined();
  });
});
