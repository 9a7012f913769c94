/**
 * The synchronous context manager (Predict's), alone and as Predict runs it: a traced call's
 * span reaches its handler and log lines across the middleware's awaits (an admission that
 * waits, an asynchronous handler that fails), carried over explicitly since this manager does
 * not follow promises by itself, and nothing stays active once a call is answered.
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { ROOT_CONTEXT, createContextKey, trace } from "@opentelemetry/api";
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  NodeTracerProvider,
  ParentBasedSampler,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import {
  Client,
  Metadata,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type ServiceError,
  credentials,
  type handleUnaryCall,
  status,
} from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AdminCheck, CallGate } from "../auth/call-gate.js";
import { type AccessTable, type RpcHandlers, withMiddleware } from "../grpc/rpc-middleware.js";
import { traceUnaryCalls } from "./server-call-tracing.js";
import { SynchronousContextManager } from "./synchronous-context-manager.js";
import { activeTraceIds } from "./tracing.js";
import { JSON_UNARY_METHOD, type Note } from "../testing/json-test-service.js";

const KEY = createContextKey("test key");

describe("SynchronousContextManager", () => {
  const manager = new SynchronousContextManager();
  const inside = ROOT_CONTEXT.setValue(KEY, "inside");
  const nested = ROOT_CONTEXT.setValue(KEY, "nested");

  it("makes a context active for the synchronous run of with, nested, and restores it after", () => {
    const seen: unknown[] = [];
    const result = manager.with(
      inside,
      (a: number, b: number) => {
        seen.push(manager.active().getValue(KEY));
        manager.with(nested, () => seen.push(manager.active().getValue(KEY)));
        seen.push(manager.active().getValue(KEY));
        return a + b;
      },
      undefined,
      2,
      3,
    );
    expect(result).toBe(5);
    expect(seen).toEqual(["inside", "nested", "inside"]);
    expect(manager.active()).toBe(ROOT_CONTEXT);
  });

  it("restores the outer context when the function throws", () => {
    expect(() =>
      manager.with(inside, () => {
        throw new Error("handler failed");
      }),
    ).toThrow("handler failed");
    expect(manager.active()).toBe(ROOT_CONTEXT);
  });

  it("does not follow a promise continuation unless it was bound", async () => {
    const seen = await manager.with(inside, async () => {
      const bound = manager.bind(manager.active(), () => manager.active().getValue(KEY));
      await Promise.resolve();
      return { unbound: manager.active().getValue(KEY), bound: bound() };
    });
    expect(seen).toEqual({ unbound: undefined, bound: "inside" });
  });

  it("binds a function with its this, arguments and length; leaves anything else as it is", () => {
    function add(this: { base: number }, n: number): [number, unknown] {
      return [this.base + n, manager.active().getValue(KEY)];
    }
    const bound = manager.bind(inside, add);
    expect(bound.length).toBe(1);
    expect(bound.call({ base: 10 }, 5)).toEqual([15, "inside"]);
    expect(manager.active()).toBe(ROOT_CONTEXT);
    const plain = { not: "a function" };
    expect(manager.bind(inside, plain)).toBe(plain);
  });
});

// Predict's process, in small: the global provider on the synchronous manager, traceUnaryCalls
// around the middleware, a pino logger whose mixin adds the active span's ids.
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({
  sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
provider.register({ contextManager: new SynchronousContextManager() });

const DEFINITION = {
  admitted: { ...JSON_UNARY_METHOD, path: "/test.Traced/Admitted", originalName: "admitted" },
  failsLater: { ...JSON_UNARY_METHOD, path: "/test.Traced/FailsLater", originalName: "failsLater" },
} satisfies ServiceDefinition;
interface TracedServer {
  admitted: handleUnaryCall<Note, Note>;
  failsLater: handleUnaryCall<Note, Note>;
}
/** "admin" goes through an admission that answers a turn of the event loop later. */
const ACCESS: AccessTable<TracedServer> = { admitted: "admin", failsLater: "open" };
const laterAdmin: AdminCheck = {
  authorize: () =>
    new Promise((resolve) => setImmediate(() => resolve({ principal: "admin", breakGlass: false }))),
};

const lines: Record<string, unknown>[] = [];
const logger = pino(
  { mixin: activeTraceIds },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  }),
);
/** What each handler saw as active, and whether anything was active once the call was answered. */
const activeInHandler: (string | undefined)[] = [];
const HANDLERS: RpcHandlers<TracedServer> = {
  admitted: ({ text }) => {
    activeInHandler.push(trace.getActiveSpan()?.spanContext().spanId);
    logger.info({ text }, "handled after the admission");
    return { text };
  },
  failsLater: () =>
    new Promise<Note>((_resolve, reject) => setImmediate(() => reject(new Error("the disk is full")))),
};

const server = new Server();
let client: Client;

beforeAll(async () => {
  const gate = new CallGate(undefined, laterAdmin);
  server.addService(
    DEFINITION,
    traceUnaryCalls(
      DEFINITION,
      withMiddleware(DEFINITION, ACCESS, HANDLERS, { gate, metrics: undefined, logger }),
    ),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
});

afterAll(async () => {
  client.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  await provider.shutdown();
});

beforeEach(() => {
  exporter.reset();
  lines.length = 0;
  activeInHandler.length = 0;
});

function call(method: keyof typeof DEFINITION, traceparent: string): Promise<ServiceError | null> {
  const metadata = new Metadata();
  metadata.set("traceparent", traceparent);
  const { path, requestSerialize, responseDeserialize } = DEFINITION[method];
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      path,
      requestSerialize,
      responseDeserialize,
      { text: "hello" },
      metadata,
      (error) => resolve(error),
    ),
  );
}

describe("a traced call on the synchronous context manager", () => {
  it("runs its handler and log lines in its span after an admission that waits", async () => {
    const traceId = randomBytes(16).toString("hex");
    expect(await call("admitted", `00-${traceId}-${randomBytes(8).toString("hex")}-01`)).toBeNull();
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe("grpc.test.Traced/Admitted");
    expect(span?.spanContext().traceId).toBe(traceId);
    expect(activeInHandler).toEqual([span?.spanContext().spanId]);
    const line = lines.find((l) => l["msg"] === "handled after the admission");
    expect(line).toMatchObject({ trace_id: traceId, span_id: span?.spanContext().spanId });
    // Nothing stays active once the call is answered.
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it("logs an asynchronous handler's internal error with the call's ids", async () => {
    const traceId = randomBytes(16).toString("hex");
    const error = await call("failsLater", `00-${traceId}-${randomBytes(8).toString("hex")}-01`);
    expect(error?.code).toBe(status.INTERNAL);
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes["rpc.grpc.status_code"]).toBe(status.INTERNAL);
    const line = lines.find((l) => String(l["msg"]).startsWith("FailsLater failed: internal error"));
    expect(line).toMatchObject({ trace_id: traceId, span_id: span?.spanContext().spanId });
  });
});
