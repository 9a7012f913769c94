/**
 * The bench's baseline: a bare grpc-js server that answers SubmitFeedback with a constant,
 * storing and verifying nothing, so the durable service's throughput can be stated as a
 * share of what grpc-js itself manages on the same machine in the same run.
 */
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import {
  FeedbackState,
  RetrainServiceService,
  type RetrainServiceServer,
  type SubmitFeedbackResponse,
} from "../../gen/liver/v1/retrain_service.js";

const ANSWER: SubmitFeedbackResponse = {
  feedbackId: "00000000-0000-4000-8000-000000000000",
  retrainScheduled: false,
  duplicate: false,
  modelVersion: "v1",
  state: FeedbackState.FEEDBACK_STATE_TRAINED,
  stateReason: "",
};

const unimplemented = (_call: unknown, callback: (error: { code: status; details: string }) => void): void =>
  callback({ code: status.UNIMPLEMENTED, details: "the bare baseline answers SubmitFeedback only" });

const implementation: RetrainServiceServer = {
  submitFeedback: (_call, callback) => callback(null, ANSWER),
  getRetrainStatus: unimplemented,
  watchModelVersions: (call) => call.emit("error", { code: status.UNIMPLEMENTED, details: "baseline" }),
  getModelArtifact: unimplemented,
  listModelVersions: unimplemented,
  triggerRetrain: unimplemented,
  rollbackModel: unimplemented,
  listFeedback: unimplemented,
  excludeFeedback: unimplemented,
  releaseFeedback: unimplemented,
  listFeedbackAudit: unimplemented,
  approveModelVersion: unimplemented,
  rejectModelVersion: unimplemented,
};

const server = new Server();
server.addService(RetrainServiceService, implementation);
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  console.log(JSON.stringify({ msg: "bare feedback server listening", port }));
});
process.on("SIGTERM", () => server.forceShutdown());
