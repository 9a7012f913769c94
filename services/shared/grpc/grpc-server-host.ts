import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import { loadContractDescriptor } from "./contract-descriptor.js";

/** Largest request a server accepts; larger ones get RESOURCE_EXHAUSTED from grpc-js. */
export const MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Options shared by both services' servers. */
export interface GrpcServerHostOptions {
  /** Fully qualified service names whose health follows setServing, e.g. "liver.v1.PredictService". */
  readonly serviceNames: readonly string[];
  readonly logger: Logger;
  readonly maxReceiveMessageBytes?: number;
  readonly maxSendMessageBytes?: number;
  /** Plaintext when absent; see grpcServerCredentials (services/shared/tls) for TLS and mTLS. */
  readonly credentials?: ServerCredentials;
}

/**
 * A grpc-js server with what every service of the mesh needs: grpc.health.v1 (NOT_SERVING
 * until the owner says otherwise), reflection v1 and v1alpha, size limits, keepalive, and
 * a graceful shutdown that flips health first so load balancers stop sending work.
 */
export class GrpcServerHost {
  readonly server: Server;
  private readonly health: HealthImplementation;
  private serving = false;
  private port: number | undefined;
  private healthServer: Server | undefined;

  constructor(private readonly options: GrpcServerHostOptions) {
    this.server = new Server({
      "grpc.max_receive_message_length": options.maxReceiveMessageBytes ?? MAX_RECEIVE_MESSAGE_BYTES,
      "grpc.max_send_message_length": options.maxSendMessageBytes ?? 64 * 1024 * 1024,
      // Let clients ping idle streams (the version stream is long-lived) without being cut off.
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 5_000,
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
    });
    const statuses: Record<string, "NOT_SERVING"> = { "": "NOT_SERVING" };
    for (const name of options.serviceNames) statuses[name] = "NOT_SERVING";
    this.health = new HealthImplementation(statuses);
    this.health.addToServer(this.server);
    new ReflectionService(loadContractDescriptor()).addToServer(this.server);
  }

  /** Registers a service implementation. */
  addService(definition: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    this.server.addService(definition, implementation);
  }

  /** Binds and starts; resolves to the bound port (useful with port 0). */
  async listen(host: string, port: number): Promise<number> {
    const bound = await new Promise<number>((resolve, reject) => {
      const credentials = this.options.credentials ?? ServerCredentials.createInsecure();
      this.server.bindAsync(`${host}:${port}`, credentials, (error, actual) => {
        if (error) reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`));
        else resolve(actual);
      });
    });
    this.port = bound;
    return bound;
  }

  /**
   * Serves grpc.health.v1 alone, in plaintext, on a second port (HEALTH_PORT): Kubernetes'
   * native gRPC probes cannot speak TLS, so a TLS-only service answers its probes here and
   * nothing else. Resolves to the bound port.
   */
  async listenHealth(host: string, port: number): Promise<number> {
    const server = new Server();
    this.health.addToServer(server);
    this.healthServer = server;
    return new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (error, actual) => {
        if (error) reject(new Error(`cannot listen for health checks on ${host}:${port}: ${error.message}`));
        else resolve(actual);
      });
    });
  }

  /** The bound port, once listening. */
  get boundPort(): number | undefined {
    return this.port;
  }

  /** Flips grpc.health.v1 for "" and every named service. */
  setServing(serving: boolean): void {
    if (serving === this.serving) return;
    this.serving = serving;
    const value = serving ? "SERVING" : "NOT_SERVING";
    this.health.setStatus("", value);
    for (const name of this.options.serviceNames) this.health.setStatus(name, value);
    this.options.logger.info({ serving }, `health: ${value}`);
  }

  get isServing(): boolean {
    return this.serving;
  }

  /**
   * NOT_SERVING, then lets running calls finish for up to graceMs, then cancels the rest.
   * Long-lived streams should be ended by their owner before this (with UNAVAILABLE).
   */
  async shutdown(graceMs: number): Promise<void> {
    this.setServing(false);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.options.logger.warn({ graceMs }, "grace period over; cancelling remaining calls");
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Last: probes keep getting NOT_SERVING (not "connection refused") while calls drain.
    this.healthServer?.forceShutdown();
  }
}
