/** Runs the bench baseline (constant-predict-server.ts) as its own process, like a replica. */
import { startConstantPredictServer } from "./constant-predict-server.js";

const server = await startConstantPredictServer("127.0.0.1", 0);
console.log(JSON.stringify({ msg: "ConstantPredictServer listening", port: server.port }));
process.on("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
