/**
 * The patient form, built at run time from GetModelInfo's feature schema so the page never
 * disagrees with the serving model about inputs, units or ranges. Every field is checked
 * with the server's rules before anything is sent: a bad value shows its error next to the
 * field and no request leaves the page.
 */
import { h } from "./dom.js";
import type { PatientFeatures } from "./gen/liver/v1/patient.js";
import {
  buildPatient,
  fieldLabel,
  type PatientField,
  parseGenderField,
  parseNumericField,
} from "./patient-fields.js";

type Control = HTMLInputElement | HTMLSelectElement;

/** The form and its inline errors. */
export class PredictForm {
  private fields: PatientField[] = [];
  private schemaKey = "";
  private readonly controls = new Map<string, Control>();
  private readonly errors = new Map<string, HTMLElement>();
  private readonly summary = h("p", { class: "error form-summary", role: "alert" });
  private busy = false;

  constructor(
    private readonly form: HTMLFormElement,
    private readonly fieldsContainer: HTMLElement,
    private readonly submitButton: HTMLButtonElement,
    private readonly onPredict: (patient: PatientFeatures) => Promise<void>,
  ) {
    form.noValidate = true;
    form.append(this.summary);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
    this.submitButton.disabled = true;
  }

  /** Shows a message instead of fields (while the schema loads, or when it cannot). */
  showMessage(text: string): void {
    if (this.fields.length > 0) return;
    this.fieldsContainer.replaceChildren(h("p", { class: "muted", role: "status" }, text));
  }

  /**
   * Builds (or rebuilds, when the schema changed) the fields; values already typed are kept
   * so a model promotion does not wipe a half-filled form.
   */
  render(fields: PatientField[]): void {
    const key = JSON.stringify(fields);
    if (key === this.schemaKey) return;
    const typed = new Map([...this.controls].map(([name, control]) => [name, control.value]));
    this.schemaKey = key;
    this.fields = fields;
    this.controls.clear();
    this.errors.clear();
    this.fieldsContainer.replaceChildren(
      ...fields.map((field) => this.renderField(field, typed.get(field.name))),
    );
    this.submitButton.disabled = this.busy;
  }

  private renderField(field: PatientField, value: string | undefined): HTMLElement {
    const id = `field-${field.name}`;
    const hintId = `${id}-hint`;
    const errorId = `${id}-error`;
    const error = h("p", { id: errorId, class: "field-error", hidden: true });
    let control: Control;
    let hint: string;
    if (field.kind === "gender") {
      control = h(
        "select",
        { id, name: field.name, required: true, "aria-describedby": `${hintId} ${errorId}` },
        h("option", { value: "" }, "Choose…"),
        ...field.options.map((option) => h("option", { value: option.enumName }, option.label)),
      );
      hint = field.options.map((o) => o.label).join(" or ");
    } else {
      control = h("input", {
        id,
        name: field.name,
        type: "text",
        inputmode: "decimal",
        autocomplete: "off",
        spellcheck: "false",
        required: true,
        "aria-describedby": `${hintId} ${errorId}`,
      });
      hint = field.rangeText;
    }
    if (value !== undefined) control.value = value;
    control.addEventListener("change", () => this.checkField(field));
    control.addEventListener("input", () => {
      if (control.getAttribute("aria-invalid") === "true") this.checkField(field);
    });
    this.controls.set(field.name, control);
    this.errors.set(field.name, error);
    const unit = field.kind === "numeric" && field.spec.unit !== "" ? ` (${field.spec.unit})` : "";
    return h(
      "div",
      { class: "field" },
      h("label", { for: id }, fieldLabel(field), h("span", { class: "unit" }, unit)),
      control,
      h("p", { id: hintId, class: "hint" }, field.kind === "numeric" ? `Valid range: ${hint}` : hint),
      error,
    );
  }

  private rawValue(name: string): string {
    return this.controls.get(name)?.value ?? "";
  }

  private checkField(field: PatientField): void {
    const raw = this.rawValue(field.name);
    const { error } = field.kind === "gender" ? parseGenderField(field, raw) : parseNumericField(field, raw);
    this.setError(field.name, error);
  }

  private setError(name: string, message: string | undefined): void {
    const control = this.controls.get(name);
    const element = this.errors.get(name);
    if (control === undefined || element === undefined) return;
    element.textContent = message ?? "";
    element.hidden = message === undefined;
    if (message === undefined) control.removeAttribute("aria-invalid");
    else control.setAttribute("aria-invalid", "true");
  }

  private async submit(): Promise<void> {
    if (this.busy || this.fields.length === 0) return;
    const result = buildPatient(this.fields, (name) => this.rawValue(name));
    for (const field of this.fields) {
      this.setError(field.name, result.ok ? undefined : result.errors.get(field.name));
    }
    if (!result.ok) {
      const names = this.fields.filter((f) => result.errors.has(f.name)).map(fieldLabel);
      this.summary.textContent = `${names.length === 1 ? "1 field needs" : `${names.length} fields need`} attention: ${names.join(", ")}. Nothing was sent.`;
      const first = this.fields.find((f) => result.errors.has(f.name));
      if (first !== undefined) this.controls.get(first.name)?.focus();
      return;
    }
    this.summary.textContent = "";
    this.busy = true;
    this.submitButton.disabled = true;
    this.form.setAttribute("aria-busy", "true");
    try {
      await this.onPredict(result.patient);
    } finally {
      this.busy = false;
      this.submitButton.disabled = false;
      this.form.removeAttribute("aria-busy");
    }
  }
}
