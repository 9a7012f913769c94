import { credentials, Server, ServerCredentials, status, type ServiceError } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { PredictServiceService } from "../../gen/liver/v1/predict_service.js";
import {
  FeedbackState,
  FeedbackVerdict,
  RetrainServiceClient,
  RetrainServiceService,
  type SubmitFeedbackResponse,
  type TriggerRetrainResponse,
} from "../../gen/liver/v1/retrain_service.js";
import { RETRIED_METHODS, retryChannelOptions, retryServiceConfig } from "./retry-service-config.js";

const unavailable = (): Partial<ServiceError> => ({ code: status.UNAVAILABLE, details: "restarting" });

let server: Server | undefined;
let client: RetrainServiceClient | undefined;
afterEach(() => {
  client?.close();
  server?.forceShutdown();
  client = undefined;
  server = undefined;
});

/** A server whose SubmitFeedback and TriggerRetrain fail UNAVAILABLE `failures` times each, then answer. */
async function flakyRetrain(failures: number): Promise<{ port: number; calls: Record<string, number> }> {
  const calls = { submitFeedback: 0, triggerRetrain: 0 };
  server = new Server();
  server.addService(
    {
      submitFeedback: RetrainServiceService.submitFeedback,
      triggerRetrain: RetrainServiceService.triggerRetrain,
    },
    {
      submitFeedback: (
        _call: unknown,
        callback: (e: Partial<ServiceError> | null, r?: SubmitFeedbackResponse) => void,
      ) => {
        calls.submitFeedback++;
        if (calls.submitFeedback <= failures) callback(unavailable());
        else
          callback(null, {
            feedbackId: "f",
            retrainScheduled: false,
            duplicate: calls.submitFeedback > 1,
            modelVersion: "v1",
            state: FeedbackState.FEEDBACK_STATE_TRAINED,
            stateReason: "",
          });
      },
      triggerRetrain: (
        _call: unknown,
        callback: (e: Partial<ServiceError> | null, r?: TriggerRetrainResponse) => void,
      ) => {
        calls.triggerRetrain++;
        callback(unavailable());
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server?.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    ),
  );
  return { port, calls };
}

function unary<Res>(
  call: (callback: (error: ServiceError | null, response?: Res) => void) => void,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    call((error, response) =>
      error === null && response !== undefined
        ? resolve(response)
        : reject(error ?? new Error("no response")),
    ),
  );
}

describe("the internal callers' retry policy", () => {
  it("names only methods the contract has, and never a stream or an action that must not repeat", () => {
    const definitions: Record<string, Record<string, { path: string; responseStream: boolean }>> = {
      "liver.v1.RetrainService": RetrainServiceService,
      "liver.v1.PredictService": PredictServiceService,
    };
    for (const [service, methods] of Object.entries(RETRIED_METHODS)) {
      const names = Object.values(definitions[service] ?? {});
      for (const method of methods) {
        const definition = names.find((d) => d.path === `/${service}/${method}`);
        expect(definition, `${service}/${method}`).toBeDefined();
        expect(definition?.responseStream, `${service}/${method} streams`).toBe(false);
      }
    }
    const all = Object.values(RETRIED_METHODS).flat();
    for (const never of [
      "Predict",
      "PredictBatch",
      "TriggerRetrain",
      "RollbackModel",
      "ExcludeFeedback",
      "ReleaseFeedback",
    ])
      expect(all).not.toContain(never);
    expect(JSON.parse(retryServiceConfig())).toMatchObject({
      retryThrottling: { maxTokens: 10, tokenRatio: 0.1 },
    });
  });

  it("retries SubmitFeedback through a short UNAVAILABLE on a grpc-js channel, and not TriggerRetrain", async () => {
    const { port, calls } = await flakyRetrain(2);
    client = new RetrainServiceClient(
      `127.0.0.1:${port}`,
      credentials.createInsecure(),
      retryChannelOptions(),
    );
    const answered = await unary<SubmitFeedbackResponse>((cb) =>
      client?.submitFeedback({ feedbackToken: "t", verdict: FeedbackVerdict.FEEDBACK_VERDICT_CORRECT }, cb),
    );
    expect(answered.feedbackId).toBe("f");
    expect(calls.submitFeedback).toBe(3);
    await expect(unary((cb) => client?.triggerRetrain({ reason: "" }, cb))).rejects.toMatchObject({
      code: status.UNAVAILABLE,
    });
    expect(calls.triggerRetrain).toBe(1);
  });

  it("gives up after four attempts", async () => {
    const { port, calls } = await flakyRetrain(10);
    client = new RetrainServiceClient(
      `127.0.0.1:${port}`,
      credentials.createInsecure(),
      retryChannelOptions(),
    );
    await expect(
      unary((cb) =>
        client?.submitFeedback({ feedbackToken: "t", verdict: FeedbackVerdict.FEEDBACK_VERDICT_CORRECT }, cb),
      ),
    ).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect(calls.submitFeedback).toBe(4);
  });
});
