/**
 * The grpc-web bridge as tests start it: in the "tls" vitest project it serves HTTPS with the
 * test PKI's service certificate and calls Predict and Retrain over mTLS with the same
 * certificate as its client certificate (what `npm start -- --tls` does); elsewhere plaintext
 * both ways. Callers reach it at `url(port)`; node's fetch and https trust the run's CA through
 * NODE_EXTRA_CA_CERTS, which the "tls" project sets (vitest.config.ts).
 */
import { pino } from "pino";
import { testScheme, testServerTls, testTlsEnabled } from "../../../services/shared/testing/test-tls.js";
import { BridgeTls } from "../bridge-tls.js";
import { GrpcWebBridge, type GrpcWebBridgeOptions } from "../grpc-web-bridge.js";

/** A GrpcWebBridge with the test transport; close() also stops its TLS file watchers. */
export class TestGrpcWebBridge extends GrpcWebBridge {
  private readonly testTls: BridgeTls | undefined;

  constructor(options: Omit<GrpcWebBridgeOptions, "tls">) {
    const tls = testTlsEnabled()
      ? new BridgeTls(testServerTls(), options.logger ?? pino({ level: "silent" }))
      : undefined;
    super(tls === undefined ? options : { ...options, tls });
    this.testTls = tls;
  }

  /** The base URL of the bridge on `port`: https in the "tls" project. IPv6 hosts in brackets. */
  static url(port: number, host = "127.0.0.1"): string {
    return `${testScheme()}://${host}:${port}`;
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      this.testTls?.close();
    }
  }
}
