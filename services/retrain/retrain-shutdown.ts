import type { Logger } from "pino";
import type { GrpcServerHost } from "../shared/grpc/grpc-server-host.js";
import type { MetricsServer } from "../shared/ops/metrics-server.js";
import type { RetrainComponents } from "./retrain-components.js";
import type { StoreDatabase } from "./store/sqlite-store.js";

/** What a running RetrainService holds open. */
export interface RunningRetrainServer {
  readonly host: GrpcServerHost;
  readonly components: RetrainComponents;
  readonly metricsServer: MetricsServer;
  readonly db: StoreDatabase;
  readonly shutdownGraceMs: number;
  readonly logger: Logger;
}

/**
 * SIGTERM, in an order where each step only stops what no later step needs:
 * 1. health NOT_SERVING first, so load balancers stop sending work;
 * 2. version streams end with UNAVAILABLE (they never end by themselves, and the server's
 *    drain would wait for them); subscribers reconnect with after_version elsewhere;
 * 3. a running retrain is aborted and the scheduler stops, so no run starts or writes;
 * 4. the gRPC server drains unary calls within the grace period; those calls may still
 *    commit feedback, so
 * 5. the feedback writer flushes its queue and only then its commit thread closes;
 * 6. the training thread, the metrics endpoint and last the store close.
 */
export async function shutdownRetrainServer(running: RunningRetrainServer): Promise<void> {
  const { host, components: c } = running;
  host.setServing(false);
  c.broadcaster.close(
    "the RetrainService is shutting down; reconnect with after_version set to the last version seen",
  );
  c.runner.abort("the RetrainService is shutting down");
  await c.scheduler.stop();
  await host.shutdown(running.shutdownGraceMs);
  await c.writer.close();
  await c.commitThread.close();
  await c.trainer.close();
  await running.metricsServer.close();
  running.db.close();
  running.logger.info("RetrainService stopped");
}
