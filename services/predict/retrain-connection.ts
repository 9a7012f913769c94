import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import { RetrainServiceClient } from "../gen/liver/v1/retrain_service.js";
import { retryChannelOptions } from "../shared/grpc/retry-service-config.js";

/**
 * The replica's channel to RetrainService, replaceable: when the version stream goes silent
 * the TCP connection may be a black hole (a cut cable, a frozen peer), and a fresh channel is
 * the only sure way off it. Callers read `client` at the time of each call.
 */
export class RetrainConnection {
  private current: RetrainServiceClient;
  private closed = false;

  /** `channelCredentials`: plaintext by default; grpcChannelCredentials for TLS (TLS_CA_FILE). */
  constructor(
    readonly address: string,
    private readonly channelCredentials: ChannelCredentials = credentials.createInsecure(),
  ) {
    this.current = this.open();
  }

  get client(): RetrainServiceClient {
    return this.current;
  }

  /** Drops the channel and opens a new one; calls already running on the old one go on. */
  reset(): void {
    if (this.closed) return;
    const old = this.current;
    this.current = this.open();
    old.close();
  }

  close(): void {
    this.closed = true;
    this.current.close();
  }

  private open(): RetrainServiceClient {
    return new RetrainServiceClient(this.address, this.channelCredentials, {
      // Reconnect fast after Retrain restarts: the replica converges within the backoff.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 2_000,
      // Transport-level liveness in addition to the heartbeat watchdog.
      "grpc.keepalive_time_ms": 15_000,
      "grpc.keepalive_timeout_ms": 5_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.max_receive_message_length": 256 * 1024 * 1024,
      // GetModelArtifact (and any idempotent call) is retried on UNAVAILABLE within a budget.
      ...retryChannelOptions(),
    });
  }
}
