import { randomBytes } from "node:crypto";
import { context } from "@opentelemetry/api";
import {
  status,
  type handleUnaryCall,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { AuthError } from "../auth/auth-error.js";
import type { Access, CallGate, CallIdentity } from "../auth/call-gate.js";
import { grpcError, type GrpcStatusError } from "./grpc-errors.js";
import { RpcFailure } from "./rpc-failure.js";
import type { RpcMetrics } from "./rpc-metrics.js";

/**
 * What a unary handler receives beside its request: the admitted caller (CallIdentity) and
 * the grpc-js call, for its peer and metadata. Passed as an argument, so it is typed and
 * lives exactly as long as the call.
 */
export interface CallContext<Req = unknown, Res = unknown> extends CallIdentity {
  readonly call: ServerUnaryCall<Req, Res>;
}

/**
 * A unary method's logic: its answer, or a promise of it. A synchronous answer is sent in
 * the same tick (Predict's scratch buffers rely on it). Refusals are thrown as RpcFailure
 * (or AuthError); anything else thrown is answered as a generic INTERNAL with an id.
 */
export type RpcHandler<Req, Res> = (request: Req, context: CallContext<Req, Res>) => Res | Promise<Res>;

/** The named methods of a generated grpc-js server interface, without its index signature. */
type Methods<S> = keyof { [K in keyof S as string extends K ? never : K]: S[K] };

/** A service's handlers in middleware style: unary methods as RpcHandler, streams as grpc-js has them. */
export type RpcHandlers<S> = {
  readonly [K in Methods<S>]: S[K] extends handleUnaryCall<infer Req, infer Res>
    ? RpcHandler<Req, Res>
    : S[K];
};

/** What each method of a service asks of its caller: one entry per RPC, checked at compile time and at start. */
export type AccessTable<S> = { readonly [K in Methods<S>]: Access };

/** The cross-cutting parts every handler of a service shares. */
export interface RpcPolicy {
  readonly gate: CallGate;
  readonly metrics: RpcMetrics | undefined;
  readonly logger: Logger;
}

/**
 * The one middleware layer of both services: wraps a service's handlers into the grpc-js
 * implementation of `definition`. Per unary call it admits the caller once from the
 * metadata, as the method's entry in `access` asks (CallGate), runs the handler with the
 * caller in its CallContext, answers, counts the call and its latency per method
 * (RpcMetrics), and maps errors (statusOf). Server-streaming methods are passed through
 * unchanged and must be "open". Throws at start when a method of `definition` has no access
 * entry or no handler, or an entry names a method `definition` lacks, so a new RPC cannot be
 * served before its role is decided.
 *
 * A wrapper rather than a grpc-js server interceptor: it hands the verified caller to the
 * handler as a typed argument, and Predict's cached-token path stays synchronous. A call
 * that waits (a token's first verification, an asynchronous handler) goes on in the trace
 * context it started in, whichever context manager the process runs (tracing.ts).
 */
export function withMiddleware<S>(
  definition: ServiceDefinition,
  access: AccessTable<S>,
  handlers: RpcHandlers<S>,
  policy: RpcPolicy,
): UntypedServiceImplementation {
  const table = access as Readonly<Record<string, Access>>;
  const given = handlers as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(table)) {
    if (!(key in definition)) throw new Error(`access table names ${key}, which the service does not define`);
  }
  const implementation: UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(definition)) {
    const name = method.path.slice(method.path.lastIndexOf("/") + 1);
    const needs = table[key];
    if (needs === undefined)
      throw new Error(`${method.path} has no entry in the access table: decide its role`);
    if (!policy.gate.admits(needs))
      throw new Error(`${method.path} needs ${needs} callers and no check for them was given`);
    const handler = given[key];
    if (typeof handler !== "function") throw new Error(`${method.path} has no handler`);
    if (method.requestStream || method.responseStream) {
      if (needs !== "open") throw new Error(`${method.path} streams; only open streaming methods are served`);
      implementation[key] = handler as UntypedHandleCall;
    } else {
      implementation[key] = unary(name, needs, handler as RpcHandler<unknown, unknown>, policy);
    }
  }
  return implementation;
}

function unary(
  method: string,
  access: Access,
  handler: RpcHandler<unknown, unknown>,
  { gate, metrics, logger }: RpcPolicy,
): handleUnaryCall<unknown, unknown> {
  const counted = metrics?.method(method);
  // One set of steps per method, the call's state passed as arguments: a synchronous call
  // allocates nothing here but its context.
  const ok = (callback: sendUnaryData<unknown>, started: number, response: unknown): void => {
    callback(null, response);
    counted?.answered(status.OK, (performance.now() - started) / 1000);
  };
  const fail = (callback: sendUnaryData<unknown>, started: number, error: unknown): void => {
    const answer = statusOf(error, method, logger);
    callback(answer);
    counted?.answered(answer.code, (performance.now() - started) / 1000);
  };
  const run = (
    call: ServerUnaryCall<unknown, unknown>,
    callback: sendUnaryData<unknown>,
    started: number,
    admitted: CallIdentity,
  ): void => {
    let result: unknown;
    try {
      result = handler(call.request, {
        principal: admitted.principal,
        caller: admitted.caller,
        breakGlass: admitted.breakGlass,
        call,
      });
    } catch (error) {
      fail(callback, started, error);
      return;
    }
    if (result instanceof Promise) {
      continueInContext(
        result,
        (response: unknown) => ok(callback, started, response),
        (error) => fail(callback, started, error),
      );
    } else {
      ok(callback, started, result);
    }
  };
  return (call, callback) => {
    const started = performance.now();
    let identity: CallIdentity | Promise<CallIdentity>;
    try {
      identity = gate.admit(access, call.metadata, method);
    } catch (error) {
      fail(callback, started, error);
      return;
    }
    if (identity instanceof Promise) {
      continueInContext(
        identity,
        (admitted) => run(call, callback, started, admitted),
        (error) => fail(callback, started, error),
      );
    } else {
      run(call, callback, started, identity);
    }
  };
}

/**
 * The status a thrown value is answered with: a typed refusal's own (RpcFailure and its
 * subclasses, AuthError), code and message as they are; anything else is a bug or an
 * outage whose text is not the client's to read: INTERNAL "internal error (id <id>)", and
 * the full error is logged with the same id (field errorId) so an operator can find it.
 */
export function statusOf(error: unknown, method: string, logger: Logger): GrpcStatusError {
  if (error instanceof RpcFailure) return error.status;
  if (error instanceof AuthError) return error.toStatus();
  const errorId = randomBytes(8).toString("hex");
  logger.error({ err: error, method, errorId }, `${method} failed: internal error ${errorId}`);
  return grpcError(status.INTERNAL, `internal error (id ${errorId})`);
}

/**
 * Settles `promise` in the trace context active now: a process with the synchronous context
 * manager (Predict's) would otherwise run the handler, answer and log outside the call's trace.
 */
function continueInContext<T>(
  promise: Promise<T>,
  onValue: (value: T) => void,
  onError: (error: unknown) => void,
): void {
  const active = context.active();
  promise.then(context.bind(active, onValue), context.bind(active, onError));
}
