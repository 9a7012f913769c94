import { Writable } from "node:stream";
import {
  Client,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServiceDefinition,
  type ServiceError,
  type handleServerStreamingCall,
  type handleUnaryCall,
} from "@grpc/grpc-js";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { AuthError } from "../auth/auth-error.js";
import { type AdminCheck, CallGate } from "../auth/call-gate.js";
import { rpcFailure, invalidRequest } from "./rpc-failure.js";
import { type AccessTable, type RpcHandlers, type RpcPolicy, withMiddleware } from "./rpc-middleware.js";
import { RpcMetrics } from "./rpc-metrics.js";
import { JSON_UNARY_METHOD, type Note } from "../testing/json-test-service.js";

/** A hand-written service definition, so the middleware is tested apart from any real service. */
const DEFINITION = {
  echo: { ...JSON_UNARY_METHOD, path: "/test.Echo/Echo", originalName: "echo" },
  whoAmI: { ...JSON_UNARY_METHOD, path: "/test.Echo/WhoAmI", originalName: "whoAmI" },
  reset: { ...JSON_UNARY_METHOD, path: "/test.Echo/Reset", originalName: "reset" },
  tail: { ...JSON_UNARY_METHOD, responseStream: true, path: "/test.Echo/Tail", originalName: "tail" },
} satisfies ServiceDefinition;

interface EchoServer {
  echo: handleUnaryCall<Note, Note>;
  whoAmI: handleUnaryCall<Note, Note>;
  reset: handleUnaryCall<Note, Note>;
  tail: handleServerStreamingCall<Note, Note>;
}

const ACCESS: AccessTable<EchoServer> = { echo: "open", whoAmI: "clinician", reset: "admin", tail: "open" };

/** Answers after a turn of the event loop, as handlers that wait on I/O do. */
const later = <T>(value: () => T): Promise<T> =>
  new Promise((resolve, reject) => {
    setImmediate(() => {
      try {
        resolve(value());
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });

const HANDLERS: RpcHandlers<EchoServer> = {
  echo: ({ text }) => {
    if (text === "") throw invalidRequest([{ field: "text", description: "text is required" }]);
    if (text === "boom") throw new Error("disk /var/lib/secret is full");
    if (text === "later boom") return later(() => JSON.parse("{") as Note);
    if (text === "expired") throw new AuthError("unauthenticated", "the token expired");
    if (text === "gone")
      return later((): Note => {
        throw rpcFailure(status.NOT_FOUND, "no such note");
      });
    return text === "later" ? later(() => ({ text })) : { text };
  },
  whoAmI: (_request, { principal }) => ({ text: `principal=${principal}` }),
  reset: (_request, { principal, breakGlass }) => ({ text: `${principal} breakGlass=${breakGlass}` }),
  tail: (call) => {
    call.write({ text: "one" });
    call.end();
  },
};

const breakGlassAdmin: AdminCheck = {
  authorize: (metadata) =>
    metadata.get("authorization")[0] === "Bearer let-me-in"
      ? Promise.resolve({ principal: "break-glass", breakGlass: true })
      : Promise.reject(rpcFailure(status.PERMISSION_DENIED, "not an admin")),
};

const started: { server: Server; client: Client }[] = [];
afterEach(() => {
  for (const { server, client } of started.splice(0)) {
    client.close();
    server.forceShutdown();
  }
});

/** A real server on 127.0.0.1:0 serving the test service through the middleware, and its log lines. */
async function serve(policy: Partial<RpcPolicy> = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n")) {
          if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    }),
  );
  const registry = new Registry();
  const server = new Server();
  server.addService(
    DEFINITION,
    withMiddleware<EchoServer>(DEFINITION, ACCESS, HANDLERS, {
      gate: new CallGate(undefined, breakGlassAdmin),
      metrics: new RpcMetrics(registry, "test"),
      logger,
      ...policy,
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(error);
      else resolve(bound);
    });
  });
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  started.push({ server, client });
  const call = (method: keyof typeof DEFINITION, text: string, metadata = new Metadata()): Promise<Note> =>
    new Promise((resolve, reject) => {
      const { path, requestSerialize, responseDeserialize } = DEFINITION[method];
      client.makeUnaryRequest(
        path,
        requestSerialize,
        responseDeserialize,
        { text },
        metadata,
        { deadline: Date.now() + 10_000 },
        (error, answer) => {
          if (error) reject(error);
          else resolve(answer as Note);
        },
      );
    });
  return { call, lines, registry };
}

async function failure(pending: Promise<unknown>): Promise<ServiceError> {
  try {
    await pending;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error("the call succeeded; a failure was expected");
}

describe("rpc-middleware: errors", () => {
  it.each(["boom", "later boom"])(
    "answers an unknown error (%s) as INTERNAL with only an id, and logs the full error under that id",
    async (text) => {
      const { call, lines } = await serve();
      const error = await failure(call("echo", text));
      expect(status[error.code]).toBe("INTERNAL");
      const id = /^internal error \(id ([0-9a-f]{16})\)$/.exec(error.details)?.[1];
      expect(id, error.details).toBeDefined();
      const logged = lines.filter((line) => line["errorId"] === id);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ level: 50, method: "Echo" });
      const err = logged[0]?.["err"] as { message: string; stack: string };
      expect(err.message).toMatch(text === "boom" ? /disk \/var\/lib\/secret is full/ : /JSON/);
      expect(err.stack).toContain("rpc-middleware.test.ts");
    },
  );

  it("gives every unknown error its own id", async () => {
    const { call } = await serve();
    const first = await failure(call("echo", "boom"));
    const second = await failure(call("echo", "boom"));
    expect(first.details).not.toBe(second.details);
  });

  it("keeps the code and message of typed refusals, synchronous or not", async () => {
    const { call, lines } = await serve();
    const invalid = await failure(call("echo", ""));
    expect([status[invalid.code], invalid.details]).toEqual(["INVALID_ARGUMENT", "text is required"]);
    const gone = await failure(call("echo", "gone"));
    expect([status[gone.code], gone.details]).toEqual(["NOT_FOUND", "no such note"]);
    const expired = await failure(call("echo", "expired"));
    expect([status[expired.code], expired.details]).toEqual(["UNAUTHENTICATED", "the token expired"]);
    expect(lines.filter((line) => line["level"] === 50)).toEqual([]);
    expect(await call("echo", "later")).toEqual({ text: "later" });
  });
});

describe("rpc-middleware: access", () => {
  it("admits an open and a clinician method anonymously while authentication is off", async () => {
    const { call } = await serve();
    expect(await call("echo", "hi")).toEqual({ text: "hi" });
    expect(await call("whoAmI", "")).toEqual({ text: "principal=" });
  });

  it("runs an admin method only after the admin check, with its identity in the context", async () => {
    const { call } = await serve();
    const refused = await failure(call("reset", ""));
    expect([status[refused.code], refused.details]).toEqual(["PERMISSION_DENIED", "not an admin"]);
    const metadata = new Metadata();
    metadata.set("authorization", "Bearer let-me-in");
    expect(await call("reset", "", metadata)).toEqual({ text: "break-glass breakGlass=true" });
  });

  it("refuses to start when a method has no access entry, an entry has no method, or a role has no check", () => {
    const policy: RpcPolicy = {
      gate: new CallGate(undefined, breakGlassAdmin),
      metrics: undefined,
      logger: pino({ level: "silent" }),
    };
    const { reset: _dropped, ...withoutReset } = ACCESS;
    expect(() =>
      withMiddleware<EchoServer>(DEFINITION, withoutReset as AccessTable<EchoServer>, HANDLERS, policy),
    ).toThrow("/test.Echo/Reset has no entry in the access table: decide its role");
    expect(() =>
      withMiddleware<EchoServer>(
        DEFINITION,
        { ...ACCESS, purge: "admin" } as AccessTable<EchoServer>,
        HANDLERS,
        policy,
      ),
    ).toThrow("access table names purge, which the service does not define");
    expect(() =>
      withMiddleware<EchoServer>(DEFINITION, ACCESS, HANDLERS, { ...policy, gate: new CallGate(undefined) }),
    ).toThrow("/test.Echo/Reset needs admin callers and no check for them was given");
    expect(() =>
      withMiddleware<EchoServer>(DEFINITION, { ...ACCESS, tail: "clinician" }, HANDLERS, policy),
    ).toThrow("/test.Echo/Tail streams; only open streaming methods are served");
  });
});

describe("rpc-middleware: metrics", () => {
  it("counts every call by method and code name and observes its latency", async () => {
    const { call, registry } = await serve();
    await call("echo", "hi");
    await call("echo", "later");
    await failure(call("echo", ""));
    await failure(call("echo", "boom"));
    await failure(call("reset", ""));
    const requests = await registry.getSingleMetric("test_requests_total")?.get();
    const counts = Object.fromEntries(
      (requests?.values ?? []).map((v) => [
        `${String(v.labels["method"])} ${String(v.labels["code"])}`,
        v.value,
      ]),
    );
    expect(counts).toEqual({
      "Echo OK": 2,
      "Echo INVALID_ARGUMENT": 1,
      "Echo INTERNAL": 1,
      "Reset PERMISSION_DENIED": 1,
    });
    const latency = await registry.getSingleMetric("test_handler_duration_seconds")?.get();
    const observed = (latency?.values ?? []).filter(
      (v) => (v as { metricName?: string }).metricName === "test_handler_duration_seconds_count",
    );
    expect(Object.fromEntries(observed.map((v) => [String(v.labels["method"]), v.value]))).toEqual({
      Echo: 4,
      Reset: 1,
    });
  });
});
