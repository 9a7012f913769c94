import type { GatewayTarget } from "../public-methods.js";
import type { TlsMaterial } from "./bridge-tls.js";
import { DEFAULT_MAX_RECEIVE_BYTES, GrpcUpstream } from "./grpc-upstream.js";

/**
 * The bridge's upstream connections: one per Predict address, chosen round robin per call
 * (so replicas share the load as they do behind Envoy's STRICT_DNS cluster), and one for
 * the Retrain service. Responses may be larger than requests (a PredictBatch of 10,000
 * results carries a signed token each), so upstreams may answer up to 64 MiB while the
 * bridge refuses request bodies above 4 MiB itself.
 */
export class UpstreamPool {
  private readonly predict: readonly GrpcUpstream[];
  private readonly retrain: GrpcUpstream;
  private next = 0;

  /** `tls`: TLS material for new connections (see BridgeTls); absent, upstreams are plaintext. */
  constructor(predictAddresses: readonly string[], retrainAddress: string, tls?: () => TlsMaterial) {
    if (predictAddresses.length === 0)
      throw new Error("UpstreamPool: at least one Predict address is required");
    this.predict = predictAddresses.map(
      (address) => new GrpcUpstream(address, DEFAULT_MAX_RECEIVE_BYTES, tls),
    );
    this.retrain = new GrpcUpstream(retrainAddress, DEFAULT_MAX_RECEIVE_BYTES, tls);
  }

  /** The upstream for the next call to `target`. */
  pick(target: GatewayTarget): GrpcUpstream {
    if (target === "retrain") return this.retrain;
    const index = this.next;
    this.next = (index + 1) % this.predict.length;
    const upstream = this.predict[index];
    if (upstream === undefined) throw new Error(`UpstreamPool: no Predict upstream at index ${index}`);
    return upstream;
  }

  /** Closes every connection; calls still running end with an error status. */
  close(): void {
    for (const upstream of [...this.predict, this.retrain]) upstream.close();
  }
}
