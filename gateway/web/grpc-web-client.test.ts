import { describe, expect, it } from "vitest";
import { Diagnosis, Gender } from "./src/gen/liver/v1/patient.js";
import { PredictRequest, PredictResponse } from "./src/gen/liver/v1/predict_service.js";
import { GrpcWebClient, type FetchFunction, type MethodDescriptor } from "./src/grpc-web-client.js";
import { GrpcCode, GrpcWebError } from "./src/grpc-status.js";

const PREDICT: MethodDescriptor<PredictRequest, PredictResponse> = {
  path: "/liver.v1.PredictService/Predict",
  requestType: PredictRequest,
  responseType: PredictResponse,
};

const REQUEST: PredictRequest = { patient: { age: 45, gender: Gender.GENDER_FEMALE } };

function answer(version: string): PredictResponse {
  return {
    probability: 0.75,
    diagnosis: Diagnosis.DIAGNOSIS_LIVER_DISEASE,
    modelVersion: version,
    predictionId: `id-${version}`,
    feedbackToken: "token",
    threshold: 0.5,
    explanation: undefined,
    warnings: [],
  };
}

function frame(flag: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flag;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

const messageFrame = (m: PredictResponse): Uint8Array<ArrayBuffer> =>
  frame(0, PredictResponse.encode(m).finish());
const trailerFrame = (block: string): Uint8Array<ArrayBuffer> => frame(0x80, new TextEncoder().encode(block));

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A body that delivers `bytes` in chunks of `chunkSize`, then optionally fails. */
function body(bytes: Uint8Array, chunkSize = 3, failAtEnd?: Error): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) {
        if (failAtEnd === undefined) controller.close();
        else controller.error(failAtEnd);
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

const GRPC_HEADERS = { "content-type": "application/grpc-web+proto" };

interface Recorded {
  url: string;
  init: RequestInit;
}

function fakeFetch(respond: (init: RequestInit) => Response | Promise<Response>): {
  fetch: FetchFunction;
  calls: Recorded[];
} {
  const calls: Recorded[] = [];
  return {
    calls,
    fetch: (url, init) => {
      calls.push({ url, init });
      return Promise.resolve(respond(init));
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<GrpcWebError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GrpcWebError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

async function collect<T>(stream: AsyncGenerator<T>): Promise<{ messages: T[]; error?: GrpcWebError }> {
  const messages: T[] = [];
  try {
    for await (const message of stream) messages.push(message);
  } catch (error) {
    if (error instanceof GrpcWebError) return { messages, error };
    throw error;
  }
  return { messages };
}

describe("GrpcWebClient.unary", () => {
  it("posts one binary frame with grpc-web headers and decodes the answer across chunk boundaries", async () => {
    const { fetch, calls } = fakeFetch(
      () =>
        new Response(body(concat([messageFrame(answer("v3")), trailerFrame("grpc-status:0\r\n")]), 2), {
          headers: GRPC_HEADERS,
        }),
    );
    const client = new GrpcWebClient({ baseUrl: "http://gw.test/", fetch });
    const result = await client.unary(PREDICT, REQUEST, { timeoutMs: 1500 });

    expect(result).toEqual(answer("v3"));
    const [call] = calls;
    expect(call?.url).toBe("http://gw.test/liver.v1.PredictService/Predict");
    expect(call?.init.method).toBe("POST");
    expect(call?.init.headers).toMatchObject({
      "content-type": "application/grpc-web+proto",
      "x-grpc-web": "1",
      "grpc-timeout": "1500m",
    });
    const sent = call?.init.body;
    expect(sent).toBeInstanceOf(Uint8Array);
    const bytes = sent as Uint8Array;
    expect(bytes[0]).toBe(0);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(1)).toBe(bytes.length - 5);
    expect(PredictRequest.decode(bytes.slice(5))).toEqual(PredictRequest.fromPartial(REQUEST));
  });

  it("sends no grpc-timeout without a deadline and uses the page origin by default", async () => {
    const { fetch, calls } = fakeFetch(
      () =>
        new Response(concat([messageFrame(answer("v1")), trailerFrame("grpc-status:0\r\n")]), {
          headers: GRPC_HEADERS,
        }),
    );
    await new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST);
    expect(calls[0]?.url).toBe("/liver.v1.PredictService/Predict");
    expect(calls[0]?.init.headers).not.toHaveProperty("grpc-timeout");
  });

  it("turns a non-OK trailer into an error with the code and the decoded message", async () => {
    const { fetch } = fakeFetch(
      () =>
        new Response(
          trailerFrame("grpc-status:3\r\ngrpc-message:age is 130%3B valid range is 0 to 120 years\r\n"),
          {
            headers: GRPC_HEADERS,
          },
        ),
    );
    const error = await failure(new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST));
    expect(error.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(error.codeName).toBe("INVALID_ARGUMENT");
    expect(error.details).toBe("age is 130; valid range is 0 to 120 years");
    expect(error.message).toBe("INVALID_ARGUMENT: age is 130; valid range is 0 to 120 years");
    expect(error.path).toBe(PREDICT.path);
    expect(error.isTransient).toBe(false);
  });

  it("reads a trailers-only response from the headers", async () => {
    const { fetch } = fakeFetch(
      () =>
        new Response(null, {
          headers: { ...GRPC_HEADERS, "grpc-status": "14", "grpc-message": "retrain%20down" },
        }),
    );
    const error = await failure(new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST));
    expect(error.code).toBe(GrpcCode.UNAVAILABLE);
    expect(error.details).toBe("retrain down");
    expect(error.isTransient).toBe(true);
  });

  it("maps HTTP errors without grpc-status as gRPC prescribes", async () => {
    for (const [status, code] of [
      [503, GrpcCode.UNAVAILABLE],
      [502, GrpcCode.UNAVAILABLE],
      [404, GrpcCode.UNIMPLEMENTED],
      [403, GrpcCode.PERMISSION_DENIED],
      [500, GrpcCode.UNKNOWN],
    ] as const) {
      const { fetch } = fakeFetch(() => new Response("nope", { status }));
      const error = await failure(new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST));
      expect(error.code, `HTTP ${status}`).toBe(code);
      expect(error.details).toContain(`HTTP ${status}`);
    }
  });

  it("refuses a 200 response that is not grpc-web (an HTML page, say)", async () => {
    const { fetch } = fakeFetch(() => new Response("<html>", { headers: { "content-type": "text/html" } }));
    const error = await failure(new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST));
    expect(error.code).toBe(GrpcCode.UNKNOWN);
    expect(error.details).toContain('content-type "text/html"');
  });

  it("reports an unreachable gateway as UNAVAILABLE", async () => {
    const fetch: FetchFunction = () => Promise.reject(new TypeError("Failed to fetch"));
    const error = await failure(new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST));
    expect(error.code).toBe(GrpcCode.UNAVAILABLE);
    expect(error.details).toBe("cannot reach the gateway (Failed to fetch)");
  });

  it("reports a body that ends without trailers as UNAVAILABLE", async () => {
    const { fetch } = fakeFetch(() => new Response(messageFrame(answer("v1")), { headers: GRPC_HEADERS }));
    const error = await failure(new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST));
    expect(error.code).toBe(GrpcCode.UNAVAILABLE);
    expect(error.details).toBe("the response ended without a grpc-status");
  });

  it("reports a body cut inside a frame", async () => {
    const { fetch } = fakeFetch(
      () => new Response(messageFrame(answer("v1")).slice(0, 9), { headers: GRPC_HEADERS }),
    );
    const error = await failure(new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST));
    expect(error.details).toMatch(/ended inside a frame \(9 bytes left over\)/);
  });

  it("refuses zero or two messages for a unary call", async () => {
    for (const parts of [
      [trailerFrame("grpc-status:0\r\n")],
      [messageFrame(answer("v1")), messageFrame(answer("v2")), trailerFrame("grpc-status:0\r\n")],
    ]) {
      const { fetch } = fakeFetch(() => new Response(concat(parts), { headers: GRPC_HEADERS }));
      const error = await failure(new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST));
      expect(error.code).toBe(GrpcCode.INTERNAL);
      expect(error.details).toMatch(/expected exactly one response message/);
    }
  });

  it("refuses compressed messages, frames after the trailers, and trailers without a status", async () => {
    const cases: [Uint8Array<ArrayBuffer>, RegExp][] = [
      [concat([frame(0x01, new Uint8Array([1])), trailerFrame("grpc-status:0\r\n")]), /compressed/],
      [concat([trailerFrame("grpc-status:0\r\n"), messageFrame(answer("v1"))]), /after the trailers/],
      [trailerFrame("x-other:1\r\n"), /no grpc-status/],
      [concat([frame(0, new Uint8Array([0xff, 0xff])), trailerFrame("grpc-status:0\r\n")]), /cannot decode/],
    ];
    for (const [bytes, expected] of cases) {
      const { fetch } = fakeFetch(() => new Response(bytes, { headers: GRPC_HEADERS }));
      const error = await failure(new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST));
      expect(error.code).toBe(GrpcCode.INTERNAL);
      expect(error.details).toMatch(expected);
    }
  });

  it("ends a call that outlives its deadline with DEADLINE_EXCEEDED", async () => {
    const fetch: FetchFunction = (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    const error = await failure(new GrpcWebClient({ fetch }).unary(PREDICT, REQUEST, { timeoutMs: 20 }));
    expect(error.code).toBe(GrpcCode.DEADLINE_EXCEEDED);
    expect(error.details).toBe("/liver.v1.PredictService/Predict took longer than 20 ms");
  });

  it("ends a call with CANCELLED when the caller aborts, also before it starts", async () => {
    const caller = new AbortController();
    const fetch: FetchFunction = (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        caller.abort();
      });
    const client = new GrpcWebClient({ fetch });
    expect((await failure(client.unary(PREDICT, REQUEST, { signal: caller.signal }))).code).toBe(
      GrpcCode.CANCELLED,
    );
    expect((await failure(client.unary(PREDICT, REQUEST, { signal: caller.signal }))).code).toBe(
      GrpcCode.CANCELLED,
    );
  });
});

describe("GrpcWebClient.serverStream", () => {
  it("yields messages as they arrive and ends cleanly on an OK trailer", async () => {
    const { fetch } = fakeFetch(
      () =>
        new Response(
          body(
            concat([
              messageFrame(answer("v1")),
              messageFrame(answer("v2")),
              trailerFrame("grpc-status:0\r\n"),
            ]),
            7,
          ),
          { headers: GRPC_HEADERS },
        ),
    );
    const { messages, error } = await collect(new GrpcWebClient({ fetch }).serverStream(PREDICT, REQUEST));
    expect(error).toBeUndefined();
    expect(messages.map((m) => m.modelVersion)).toEqual(["v1", "v2"]);
  });

  it("delivers the messages before an error status that follows them", async () => {
    const { fetch } = fakeFetch(
      () =>
        new Response(
          concat([
            messageFrame(answer("v1")),
            trailerFrame("grpc-status:14\r\ngrpc-message:shutting down\r\n"),
          ]),
          {
            headers: GRPC_HEADERS,
          },
        ),
    );
    const { messages, error } = await collect(new GrpcWebClient({ fetch }).serverStream(PREDICT, REQUEST));
    expect(messages.map((m) => m.modelVersion)).toEqual(["v1"]);
    expect(error?.code).toBe(GrpcCode.UNAVAILABLE);
    expect(error?.details).toBe("shutting down");
  });

  it("reports a connection that drops mid-stream as UNAVAILABLE after the messages so far", async () => {
    const { fetch } = fakeFetch(
      () =>
        new Response(body(messageFrame(answer("v1")), 100, new TypeError("network error")), {
          headers: GRPC_HEADERS,
        }),
    );
    const { messages, error } = await collect(new GrpcWebClient({ fetch }).serverStream(PREDICT, REQUEST));
    expect(messages).toHaveLength(1);
    expect(error?.code).toBe(GrpcCode.UNAVAILABLE);
    expect(error?.details).toBe("the connection dropped (network error)");
  });

  it("aborts the HTTP request when the consumer stops reading early", async () => {
    let signal: AbortSignal | undefined;
    const { fetch } = fakeFetch((init) => {
      signal = init.signal ?? undefined;
      // An endless stream: one message, then nothing until cancelled.
      let sent = false;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (!sent) controller.enqueue(messageFrame(answer("v1")));
            sent = true;
          },
        }),
        { headers: GRPC_HEADERS },
      );
    });
    for await (const message of new GrpcWebClient({ fetch }).serverStream(PREDICT, REQUEST)) {
      expect(message.modelVersion).toBe("v1");
      break;
    }
    expect(signal?.aborted).toBe(true);
  });
});
