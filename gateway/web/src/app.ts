/**
 * The page's wiring: one grpc-web client on the page's own origin (so the same bundle works
 * behind Envoy and behind the local bridge), the components, and the retry loops that make
 * the page recover by itself when a service comes back.
 */
import { Backoff, delay } from "./backoff.js";
import { CalibrationChart } from "./calibration-chart.js";
import { byId, h } from "./dom.js";
import { FeedbackButtons } from "./feedback-buttons.js";
import { readFormValues, partialPatient } from "./form-values.js";
import type { PatientFeatures } from "./gen/liver/v1/patient.js";
import { GrpcCode, toGrpcWebError } from "./grpc-status.js";
import { GrpcWebClient } from "./grpc-web-client.js";
import { InputDriftPanel } from "./input-drift-panel.js";
import { LIVER_METHODS, LiverApi } from "./liver-api.js";
import { ModelHistoryChart } from "./model-history-chart.js";
import { ModelVersionWatcher } from "./model-version-watcher.js";
import { fieldsFromSchema } from "./patient-fields.js";
import { PendingApprovalPanel } from "./pending-approval-panel.js";
import { apiWarnings, checkPlausibility, mergeWarnings, PlausibilityNotice } from "./plausibility.js";
import { PredictForm } from "./predict-form.js";
import { describePredictFailure, PredictionResult } from "./prediction-result.js";
import { ResultFreshness } from "./result-freshness.js";
import { RetrainStatusPanel } from "./retrain-status.js";
import { ServiceStatusBanner } from "./service-status.js";
import { SignInPrompt } from "./sign-in-prompt.js";
import { SignedInUser } from "./signed-in-user.js";
import { startPageOutbox } from "./verdict-outbox-page.js";
import { VersionBadge } from "./version-badge.js";

/** Performance mark set when the form is on screen; the e2e test reads it as first render. */
const FIRST_RENDER_MARK = "liver:form-rendered";

function start(): void {
  // Predict and SubmitFeedback start their trace in LiverApi (trace-context.ts).
  const api = new LiverApi(new GrpcWebClient());
  const outages = new ServiceStatusBanner(byId("service-status", HTMLElement));
  const badge = new VersionBadge(byId("version-badge", HTMLElement));
  const signedIn = new SignedInUser(byId("signed-in", HTMLElement)).load();
  const signIn = new SignInPrompt(byId("sign-in", HTMLElement));
  void signIn.load();
  const synthetic = byId("synthetic-banner", HTMLElement);
  const result = new PredictionResult(byId("result", HTMLElement));
  const chart = new ModelHistoryChart(byId("history", HTMLElement));
  const calibration = new CalibrationChart(byId("calibration", HTMLElement));
  const pendingPanel = new PendingApprovalPanel(
    byId("pending-approval", HTMLElement),
    {
      approve: (version, reason) => api.approveModelVersion(version, reason),
      reject: (version, reason) => api.rejectModelVersion(version, reason),
    },
    () => history.refresh(),
  );
  void signedIn.then((who) => pendingPanel.setViewer(who));
  const history = new HistoryLoader(api, chart, calibration, outages, pendingPanel);
  let pendingSeen = "";
  let lastRunId = "";

  const status = new RetrainStatusPanel(
    byId("retrain-status", HTMLElement),
    (signal) => api.getRetrainStatus(signal),
    {
      succeeded: (response) => {
        outages.succeeded("retrain");
        const runId = response.lastRun?.runId ?? "";
        if (runId !== lastRunId) {
          lastRunId = runId;
          history.refresh();
        }
      },
      failed: (error) => outages.failed("retrain", error),
    },
  );

  // Verdicts go through the outbox: written to this browser first, sent until acknowledged.
  const outbox = startPageOutbox(api, byId("outbox", HTMLElement), (ids, text) => {
    for (const id of ids) feedback.noteWaiting(id, text);
  });
  const feedback = new FeedbackButtons(
    byId("feedback", HTMLElement),
    (prediction, verdict) => outbox.submit(prediction, verdict),
    {
      succeeded: () => {
        outages.succeeded("retrain");
        status.pollNow();
      },
      failed: (error) => {
        if (error.code === GrpcCode.UNAUTHENTICATED) signIn.show();
        outages.failed("retrain", error);
      },
    },
  );

  const formElement = byId("patient-form", HTMLFormElement);
  const warningsBefore = new PlausibilityNotice(
    h("div", { id: "form-warnings", role: "status" }),
    "Check these values:",
  );
  const warningsWithAnswer = new PlausibilityNotice(
    h("div", { id: "answer-warnings" }),
    "Implausible values in this answer's input:",
  );
  const predict = async (patient: PatientFeatures): Promise<void> => {
    result.showPending();
    feedback.clear();
    freshness.cleared();
    warningsWithAnswer.show([]);
    try {
      const prediction = await api.predict(patient);
      outages.succeeded("predict");
      result.show(prediction);
      feedback.show(prediction);
      freshness.answered(prediction.predictionId);
      warningsWithAnswer.show(mergeWarnings(checkPlausibility(patient), apiWarnings(prediction)));
    } catch (error) {
      const failure = toGrpcWebError(error, LIVER_METHODS.predict.path);
      if (failure.code === GrpcCode.UNAUTHENTICATED) signIn.show();
      outages.failed("predict", failure);
      result.showError(describePredictFailure(failure));
    }
  };
  const form = new PredictForm(
    formElement,
    byId("fields", HTMLElement),
    byId("predict-button", HTMLButtonElement),
    predict,
  );
  // Made after the form, whose submit handler must have checked the fields when this one's runs.
  const freshness = new ResultFreshness(
    formElement,
    byId("result", HTMLElement),
    byId("feedback", HTMLElement),
    labelOf,
  );
  // Warnings: under the fields as values are typed, and with the answer (beside the API's).
  byId("predict-button", HTMLButtonElement).before(warningsBefore.element);
  byId("result", HTMLElement).after(warningsWithAnswer.element);
  formElement.addEventListener("change", () => {
    warningsBefore.show(checkPlausibility(partialPatient(readFormValues(formElement))));
  });

  void loadSchema(api, form, result, outages, synthetic);

  const watcher = new ModelVersionWatcher((after, signal) => api.watchModelVersions(after, signal), {
    onConnected: () => {
      badge.setState("live");
      outages.succeeded("retrain");
    },
    onVersion: (event, previous) => {
      badge.setVersion(event.modelVersion, previous);
      status.setServingVersion(event.modelVersion);
      if (previous !== "" && previous !== event.modelVersion) status.pollNow();
      synthetic.hidden = !event.trainedOnSyntheticData;
      if (previous !== "" && previous !== event.modelVersion) history.refresh();
      // A candidate started or stopped waiting for approval: show or hide the notice.
      if (event.pendingVersion !== pendingSeen) {
        pendingSeen = event.pendingVersion;
        history.refresh();
      }
    },
    onDisconnected: (error, retryInMs) => {
      badge.setState("reconnecting", `${error.message}; retrying in ${Math.ceil(retryInMs / 1000)} s`);
      outages.failed("retrain", error);
    },
  });

  outages.onChange((service, up) => {
    if (service !== "retrain") return;
    if (up) outbox.wake();
    // Down: let the status panel say so at once instead of showing a stale state.
    status.pollNow();
    if (up) history.refresh();
  });

  const drift = new InputDriftPanel(byId("input-drift", HTMLElement), () => api.getModelInfo());

  status.start();
  watcher.start();
  void drift.run();
  history.refresh();
}

/** The form's label of a field name (for notices that name changed fields). */
function labelOf(name: string): string {
  const label = document.querySelector(`label[for="field-${CSS.escape(name)}"]`);
  return label?.firstChild?.textContent?.trim() ?? name;
}

/** Loads the feature schema until it arrives; the form cannot exist without it. */
async function loadSchema(
  api: LiverApi,
  form: PredictForm,
  result: PredictionResult,
  outages: ServiceStatusBanner,
  synthetic: HTMLElement,
): Promise<void> {
  const backoff = new Backoff();
  form.showMessage("Loading the model's input fields…");
  for (;;) {
    try {
      const info = await api.getModelInfo();
      outages.succeeded("predict");
      form.render(fieldsFromSchema(info.features));
      result.setSchema(info.features);
      synthetic.hidden = !info.trainedOnSyntheticData;
      performance.mark(FIRST_RENDER_MARK);
      return;
    } catch (error) {
      const failure = toGrpcWebError(error, LIVER_METHODS.getModelInfo.path);
      outages.failed("predict", failure);
      const wait = backoff.next();
      form.showMessage(
        `The form cannot be shown until the prediction service answers. Retrying in ${Math.ceil(wait / 1000)} s.`,
      );
      await delay(wait);
    }
  }
}

/** Reloads ListModelVersions on demand, coalescing overlapping requests and retrying failures. */
class HistoryLoader {
  private inFlight = false;
  /** Refresh requests so far; a load that sees it change while running loads again. */
  private requests = 0;
  private readonly backoff = new Backoff({ initialMs: 1000, maxMs: 8000 });

  constructor(
    private readonly api: LiverApi,
    private readonly chart: ModelHistoryChart,
    private readonly calibration: CalibrationChart,
    private readonly outages: ServiceStatusBanner,
    private readonly pending: PendingApprovalPanel,
  ) {}

  refresh(): void {
    this.requests++;
    if (this.inFlight) return;
    this.inFlight = true;
    void this.load();
  }

  private async load(): Promise<void> {
    for (;;) {
      const served = this.requests;
      try {
        const list = await this.api.listModelVersions();
        this.backoff.reset();
        this.outages.succeeded("retrain");
        this.chart.render(list.versions, list.modelVersion);
        this.calibration.render(list.versions.find((v) => v.modelVersion === list.modelVersion));
        this.pending.render(list.versions, list.modelVersion);
        if (this.requests === served) break;
      } catch (error) {
        const failure = toGrpcWebError(error, LIVER_METHODS.listModelVersions.path);
        this.outages.failed("retrain", failure);
        const wait = this.backoff.next();
        this.chart.showError(`Model history unavailable; retrying in ${Math.ceil(wait / 1000)} s.`);
        await delay(wait);
      }
    }
    this.inFlight = false;
  }
}

start();
