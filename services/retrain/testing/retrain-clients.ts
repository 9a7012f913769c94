/**
 * Promise-shaped gRPC calls for the RetrainService tests and bench, and an assertion
 * helper for the status a call ends with.
 */
import { Metadata, status as Status, type ServiceError, type status } from "@grpc/grpc-js";
import { expect } from "vitest";
import { RetrainServiceClient, type WatchModelVersionsResponse } from "../../gen/liver/v1/retrain_service.js";
import { testChannelCredentials } from "../../shared/testing/test-tls.js";

/** A client for a server on 127.0.0.1:port (with the test client certificate in the "tls" project). */
export function retrainClient(port: number, options: Record<string, number> = {}): RetrainServiceClient {
  return new RetrainServiceClient(`127.0.0.1:${port}`, testChannelCredentials(), options);
}

/** Metadata carrying `authorization: Bearer <token>`. */
export function bearer(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

/** Runs a callback-style unary call as a promise (with a 10 s deadline). */
export function unary<Req, Res>(
  method: (
    request: Req,
    metadata: Metadata,
    options: { deadline: number },
    callback: Callback<Res>,
  ) => unknown,
  request: Req,
  metadata = new Metadata(),
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    method(request, metadata, { deadline: Date.now() + 10_000 }, (error, response) => {
      if (error !== null) reject(error);
      else resolve(response);
    });
  });
}

/** The status a failed call ended with: code and details. */
export async function failure(call: Promise<unknown>): Promise<{ code: status; details: string }> {
  try {
    await call;
  } catch (error) {
    const { code, details } = error as ServiceError;
    return { code, details };
  }
  throw new Error("the call succeeded; a failure was expected");
}

/** Asserts a call's end: its code (by name, for readable failures) and a pattern its details match. */
export function expectStatus(ended: { code: status; details: string }, code: status, details: RegExp): void {
  expect(Status[ended.code]).toBe(Status[code]);
  expect(ended.details).toMatch(details);
}

/** An open WatchModelVersions stream with its events so far and a way to wait for more. */
export interface WatchedStream {
  readonly events: WatchModelVersionsResponse[];
  /** Resolves with the first event (from the start of the stream) matching `predicate`. */
  next(predicate: (event: WatchModelVersionsResponse) => boolean): Promise<WatchModelVersionsResponse>;
  /** Resolves with the status the stream ended with. */
  readonly ended: Promise<{ code: status; details: string }>;
  cancel(): void;
}

/** Opens a version stream and records what it receives. */
export function watch(client: RetrainServiceClient, afterVersion = ""): WatchedStream {
  const call = client.watchModelVersions({ afterVersion });
  const events: WatchModelVersionsResponse[] = [];
  const waiters: {
    predicate: (e: WatchModelVersionsResponse) => boolean;
    resolve: (e: WatchModelVersionsResponse) => void;
  }[] = [];
  call.on("data", (event: WatchModelVersionsResponse) => {
    events.push(event);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(event)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  });
  call.on("error", () => undefined);
  const ended = new Promise<{ code: status; details: string }>((resolve) => {
    call.on("status", (s: { code: status; details: string }) =>
      resolve({ code: s.code, details: s.details }),
    );
  });
  return {
    events,
    ended,
    next: (predicate) => {
      const seen = events.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
    cancel: () => call.cancel(),
  };
}
