import { Client, credentials, type ChannelOptions } from "@grpc/grpc-js";
import type { GatewayTarget } from "../public-methods.js";

/** One upstream channel and the address it dials, for logs. */
export interface Upstream {
  readonly address: string;
  readonly client: Client;
}

/**
 * Responses may be larger than requests (a PredictBatch of 10,000 results carries a signed
 * token each), so the bridge accepts up to 64 MiB from upstreams while it refuses request
 * bodies above 4 MiB itself.
 */
const CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": 4 * 1024 * 1024,
};

/**
 * The bridge's gRPC channels: one grpc-js Client per Predict address, chosen round robin
 * per call (so replicas share the load as they do behind Envoy's STRICT_DNS cluster), and
 * one Client for the Retrain service.
 */
export class UpstreamPool {
  private readonly predict: readonly Upstream[];
  private readonly retrain: Upstream;
  private next = 0;

  constructor(predictAddresses: readonly string[], retrainAddress: string) {
    if (predictAddresses.length === 0)
      throw new Error("UpstreamPool: at least one Predict address is required");
    const make = (address: string): Upstream => ({
      address,
      client: new Client(address, credentials.createInsecure(), CHANNEL_OPTIONS),
    });
    this.predict = predictAddresses.map(make);
    this.retrain = make(retrainAddress);
  }

  /** The upstream for the next call to `target`. */
  pick(target: GatewayTarget): Upstream {
    if (target === "retrain") return this.retrain;
    const index = this.next;
    this.next = (index + 1) % this.predict.length;
    const upstream = this.predict[index];
    if (upstream === undefined) throw new Error(`UpstreamPool: no Predict upstream at index ${index}`);
    return upstream;
  }

  /** Closes every channel; calls still running fail with CANCELLED/UNAVAILABLE. */
  close(): void {
    for (const u of [...this.predict, this.retrain]) u.client.close();
  }
}
