/**
 * RetrainService process: environment -> settings -> server -> signal handling. Nothing
 * else lives here; startRetrainServer is what tests, benches and `npm start` embed.
 */
// First: tracing patches @grpc/grpc-js before anything else loads it.
import { tracing } from "./start-tracing.js";
import { acceptOnlyHelp } from "../shared/ops/command-line.js";
import { createLogger } from "../shared/ops/logger.js";
import { onTerminateSignal } from "../shared/ops/terminate-signals.js";
import { readRetrainConfig } from "./retrain-config.js";
import { RETRAIN_HELP } from "./retrain-help.js";
import { startRetrainServer } from "./retrain-server.js";

const logger = createLogger("retrain");

if (acceptOnlyHelp(process.argv.slice(2), RETRAIN_HELP)) await start();

async function start(): Promise<void> {
  try {
    logger.info({ tracing: tracing.enabled }, tracing.description);
    const config = readRetrainConfig(process.env);
    const server = await startRetrainServer(config, logger);
    onTerminateSignal(async (signal) => {
      logger.info({ signal }, `${signal}: shutting down`);
      await server.close();
      await tracing.shutdown();
    });
  } catch (error) {
    logger.fatal(
      { err: error },
      `RetrainService failed to start: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  }
}
