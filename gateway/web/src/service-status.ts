/**
 * One place that tells the clinician which backend is down and that the page is retrying,
 * instead of each panel failing in its own words. Components report every call's outcome;
 * a service counts as down from its first transient failure until any later call succeeds.
 */
import { h } from "./dom.js";
import type { GrpcWebError } from "./grpc-status.js";
import type { ServiceName } from "./liver-api.js";

const SERVICE_LABEL: Readonly<Record<ServiceName, string>> = {
  predict: "The prediction service",
  retrain: "The feedback and retraining service",
};

const CONSEQUENCE: Readonly<Record<ServiceName, string>> = {
  predict: "New predictions are not possible until it is back.",
  retrain: "Feedback cannot be recorded and the model version may be out of date until it is back.",
};

/** The outage in words for the clinician, then the technical reason in brackets. */
export function describeOutage(
  service: ServiceName,
  error: GrpcWebError,
): { text: string; technical: string } {
  return {
    text: `${SERVICE_LABEL[service]} is unavailable. ${CONSEQUENCE[service]} Retrying automatically.`,
    technical: `(${error.codeName}: ${error.details})`,
  };
}

/** Shows current outages in an assertive live region; hides itself when all is well. */
export class ServiceStatusBanner {
  private readonly outages = new Map<ServiceName, GrpcWebError>();
  private readonly listeners = new Set<(service: ServiceName, up: boolean) => void>();

  constructor(private readonly element: HTMLElement) {
    this.render();
  }

  /** Records a call's failure; only transient failures mean the service is down. */
  failed(service: ServiceName, error: GrpcWebError): void {
    if (!error.isTransient) return;
    const wasDown = this.outages.has(service);
    this.outages.set(service, error);
    this.render();
    if (!wasDown) for (const listener of this.listeners) listener(service, false);
  }

  /** Records a call's success: the service is up. */
  succeeded(service: ServiceName): void {
    if (!this.outages.delete(service)) return;
    this.render();
    for (const listener of this.listeners) listener(service, true);
  }

  /** Whether the service is currently believed down. */
  isDown(service: ServiceName): boolean {
    return this.outages.has(service);
  }

  /** Called when a service goes down or comes back (to refresh data that went stale). */
  onChange(listener: (service: ServiceName, up: boolean) => void): void {
    this.listeners.add(listener);
  }

  private render(): void {
    const lines = [...this.outages].map(([service, error]) => {
      const { text, technical } = describeOutage(service, error);
      return h("p", { "data-service": service }, text, h("span", { class: "technical" }, technical));
    });
    this.element.replaceChildren(...lines);
    this.element.hidden = lines.length === 0;
  }
}
