/**
 * An OpenTelemetry context manager without async_hooks, for PredictService's process.
 *
 * The SDK's default on Node is AsyncLocalStorage, which on Node 20 runs on async_hooks and
 * promise hooks: once any `context.with` has run (every sampled call, every client call the
 * gRPC instrumentation traces), every promise, nextTick and socket write of the process pays
 * a hook, sampled or not. Profiled on Predict at 64 calls in flight with the sampler at 1 %,
 * those hooks took 4.9 % of the replica's busy time, 0.2 % with this manager (README,
 * Tracing). Predict's handlers answer in the tick that receives the call, so a context that
 * lasts for the synchronous run of `with` covers them; where a call's work crosses an await
 * (an access token's first verification, a named model version fetched from Retrain), the
 * code carries the context over with `context.bind` or `context.with` itself.
 *
 * What it does not do, unlike AsyncLocalStorage: a callback, timer or promise continuation
 * scheduled inside `with` runs in the root context unless it was bound. Event emitters are
 * not re-bound (`bind` returns them unchanged), so their listeners run in the context active
 * when the event is emitted.
 */
import { type Context, type ContextManager, ROOT_CONTEXT } from "@opentelemetry/api";

/** The active context is the one of the innermost `with` still running on the stack. */
export class SynchronousContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;

  active(): Context {
    return this.current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const previous = this.current;
    this.current = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== "function") return target;
    const run = (thisArg: unknown, args: unknown[]): unknown =>
      this.with(context, target as (...a: unknown[]) => unknown, thisArg, ...args);
    const bound = function (this: unknown, ...args: unknown[]): unknown {
      return run(this, args);
    };
    Object.defineProperty(bound, "length", { value: target.length });
    return bound as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.current = ROOT_CONTEXT;
    return this;
  }
}
