import {
  type ChannelCredentials,
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

/** What a grpc.health.v1 Check said, or that nobody answered. */
export type HealthAnswer = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "UNREACHABLE";

const HealthClient = makeGenericClientConstructor(healthService, "Health");
const checkMethod = healthService.Check ?? healthService.check;
if (checkMethod === undefined) throw new Error("grpc-health-check no longer defines Health.Check");
const check = checkMethod;

/** One grpc.health.v1 Check against `address` ("host:port"), within `deadlineMs`. */
export function checkHealth(
  address: string,
  service = "",
  deadlineMs = 1000,
  channelCredentials: ChannelCredentials = credentials.createInsecure(),
): Promise<HealthAnswer> {
  const client = new HealthClient(address, channelCredentials);
  return new Promise<HealthAnswer>((resolve) => {
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      check.requestSerialize,
      check.responseDeserialize,
      { service },
      { deadline: Date.now() + deadlineMs },
      (error: ServiceError | null, answer?: { status?: unknown }) => {
        client.close();
        const status = answer?.status;
        resolve(
          error !== null
            ? "UNREACHABLE"
            : status === "SERVING" || status === "NOT_SERVING"
              ? status
              : "UNKNOWN",
        );
      },
    );
  });
}

/**
 * Polls until `address` reports SERVING; rejects after `timeoutMs` with the last answer, so
 * a start script or test can say which process never became ready.
 */
export async function waitForServing(
  address: string,
  timeoutMs: number,
  signal?: AbortSignal,
  channelCredentials?: ChannelCredentials,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: HealthAnswer = "UNREACHABLE";
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    last = await checkHealth(
      address,
      "",
      Math.min(1000, Math.max(50, deadline - Date.now())),
      channelCredentials,
    );
    if (last === "SERVING") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${address} did not report SERVING within ${timeoutMs} ms (last answer: ${last})`);
}
