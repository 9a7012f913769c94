/**
 * Entry point of the local grpc-web bridge (`npm start` runs it when Envoy is not
 * installed): reads the environment, starts the bridge, stops cleanly on SIGTERM/SIGINT.
 */
// First: tracing starts before the rest of the bridge loads.
import { tracing } from "./start-tracing.js";
import { CallerAuthenticator } from "../../services/shared/auth/caller-authenticator.js";
import { acceptOnlyHelp } from "../../services/shared/ops/command-line.js";
import { createLogger } from "../../services/shared/ops/logger.js";
import { onTerminateSignal } from "../../services/shared/ops/terminate-signals.js";
import { PLAINTEXT } from "../../services/shared/tls/tls-settings.js";
import { BRIDGE_ENV_HELP, readBridgeConfig } from "./bridge-config.js";
import { BridgeTls } from "./bridge-tls.js";
import { GrpcWebBridge } from "./grpc-web-bridge.js";

const logger = createLogger("gateway");

if (acceptOnlyHelp(process.argv.slice(2), BRIDGE_ENV_HELP)) await start();

async function start(): Promise<void> {
  try {
    logger.info({ tracing: tracing.enabled }, tracing.description);
    const config = readBridgeConfig(process.env);
    const tls = new BridgeTls(config.tls ?? PLAINTEXT, logger);
    const bridge = new GrpcWebBridge({
      tls,
      predictAddresses: config.predictAddresses,
      retrainAddress: config.retrainAddress,
      corsOrigins: config.corsOrigins,
      webRoot: config.webRoot,
      logger,
      auth: config.auth === undefined ? undefined : new CallerAuthenticator(config.auth),
    });
    const { port } = await bridge.listen(config.port, config.host);
    logger.info(
      {
        port,
        url: `${tls.serverEnabled ? "https" : "http"}://${config.host}:${port}/`,
        predict: config.predictAddresses,
        retrain: config.retrainAddress,
        corsOrigins: config.corsOrigins,
        webRoot: config.webRoot,
      },
      "gateway ready",
    );
    onTerminateSignal(async (signal) => {
      logger.info({ signal }, "gateway stopping");
      await bridge.close();
      tls.close();
      await tracing.shutdown();
    });
  } catch (error) {
    logger.fatal(
      { err: error },
      `gateway failed to start: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  }
}
