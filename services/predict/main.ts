/**
 * PredictService process: reads the settings, starts one replica, stops gracefully on
 * SIGTERM or Ctrl-C. Wiring only; everything else lives in the modules it imports.
 */
// First: tracing patches @grpc/grpc-js before anything else loads it.
import { tracing } from "./start-tracing.js";
import { acceptOnlyHelp } from "../shared/ops/command-line.js";
import { createLogger } from "../shared/ops/logger.js";
import { onTerminateSignal } from "../shared/ops/terminate-signals.js";
import { readPredictConfig } from "./predict-config.js";
import { PREDICT_HELP } from "./predict-help.js";
import { startPredictServer } from "./predict-server.js";

const logger = createLogger("predict");

async function main(): Promise<void> {
  logger.info({ tracing: tracing.enabled }, tracing.description);
  const config = readPredictConfig(process.env);
  const server = await startPredictServer(config, logger);
  logger.info(
    {
      port: server.port,
      metricsPort: server.metricsPort,
      retrainAddr: config.retrainAddr,
      modelCachePath: config.modelCachePath,
      bundledModelPath: config.bundledModelPath ?? null,
    },
    `PredictService listening on ${config.host}:${server.port} (metrics on :${server.metricsPort}), following RetrainService at ${config.retrainAddr}`,
  );
  onTerminateSignal(async (signal) => {
    logger.info({ signal }, `${signal}: NOT_SERVING, finishing running calls, stopping`);
    await server.close(config.shutdownGraceMs);
    await tracing.shutdown();
  });
}

if (acceptOnlyHelp(process.argv.slice(2), PREDICT_HELP)) {
  main().catch((error: unknown) => {
    logger.fatal(
      { err: error },
      `PredictService failed to start: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  });
}
