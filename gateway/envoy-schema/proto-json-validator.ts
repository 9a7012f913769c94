/**
 * Strict proto3-JSON validation with protoc-gen-validate (PGV) rules, over protobufjs reflection.
 *
 * Why hand-written on top of the protos: Envoy reads its YAML as proto3 JSON, rejects unknown
 * fields, resolves every `typed_config` by its `@type` and then enforces the PGV
 * `(validate.rules)` annotations of its API. No JavaScript library does that: protobufjs'
 * `fromObject` silently drops unknown fields and ignores custom options, `verify` does not
 * understand proto3 JSON (durations as "60s", enums by name, wrappers as bare scalars, Any with
 * "@type"), and the PGV code generators emit Go/C++/Java validators, not JS. So the schema (every
 * field, type, enum and rule) comes from Envoy's own .proto files; only the walk is ours.
 *
 * What is checked: every key is a field of its message (original or lowerCamel name), no
 * deprecated or disallowed-by-default field, types per the proto3 JSON mapping (including
 * Duration, Timestamp, wrappers, Struct, Any and TypedStruct), at most one member of a oneof,
 * and the PGV rules: message.required, oneof required, string length/bytes/pattern/prefix/
 * suffix/contains/in/well-known header regexes/addresses, numeric and duration bounds,
 * enum defined_only/in/not_in, repeated min/max/unique/items, map min/max pairs and keys/values,
 * Any in/not_in. PGV applies scalar and repeated rules to unset fields too (their default value),
 * so a missing `name` with `min_len: 1` fails as it does in Envoy. Not checked: cross-field
 * semantics Envoy applies in C++ (for example a route naming a cluster that exists).
 */
import { isIP } from "node:net";
import protobuf from "protobufjs";

/** One schema violation, with the path of the offending value (e.g. `clusters[0].connect_timeout`). */
export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

export interface ProtoJsonOptions {
  /**
   * Which message types an Any field accepts, keyed by `<message full name>.<field name>`
   * (without the leading dot), as full-name prefixes. Envoy looks extensions up per category
   * (network filter, HTTP filter, transport socket...), so a valid type in the wrong place fails.
   */
  readonly anyTypePrefixes?: ReadonlyMap<string, readonly string[]>;
}

type Rules = Record<string, unknown>;
type Json = Record<string, unknown>;

const WRAPPERS: Readonly<Record<string, string>> = {
  ".google.protobuf.DoubleValue": "double",
  ".google.protobuf.FloatValue": "float",
  ".google.protobuf.Int64Value": "int64",
  ".google.protobuf.UInt64Value": "uint64",
  ".google.protobuf.Int32Value": "int32",
  ".google.protobuf.UInt32Value": "uint32",
  ".google.protobuf.BoolValue": "bool",
  ".google.protobuf.StringValue": "string",
  ".google.protobuf.BytesValue": "bytes",
};

/** Types whose JSON form is not an object of fields; inside an Any they sit under "value". */
const SPECIAL_JSON = new Set([
  ...Object.keys(WRAPPERS),
  ".google.protobuf.Duration",
  ".google.protobuf.Timestamp",
  ".google.protobuf.FieldMask",
  ".google.protobuf.Struct",
  ".google.protobuf.Value",
  ".google.protobuf.ListValue",
  ".google.protobuf.Any",
]);

const TYPED_STRUCTS = new Set([".xds.type.v3.TypedStruct", ".udpa.type.v1.TypedStruct"]);

const INT_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

/** PGV's well_known_regex values (validate.proto: KnownRegex), as PGV's own generators define them. */
const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;

/** HTTP_HEADER_VALUE: no control characters but tab. Non-strict (both kinds): no NUL, CR or LF. */
function headerTextOk(s: string, strictValue: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (strictValue ? (c < 0x20 && c !== 0x09) || c === 0x7f : c === 0 || c === 0x0a || c === 0x0d)
      return false;
  }
  return true;
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
const MAX_DURATION_SECONDS = 315_576_000_000n;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;

function isJsonObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function lowerCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** The merged `(validate.rules)` option of a field (PGV may spread it over several entries). */
function pgvRules(field: protobuf.Field): Rules | undefined {
  const parsed: unknown = field.parsedOptions;
  if (!Array.isArray(parsed)) return undefined;
  let merged: Rules | undefined;
  for (const entry of parsed as unknown[]) {
    if (!isJsonObject(entry)) continue;
    const rules = entry["(validate.rules)"];
    if (isJsonObject(rules)) merged = deepMerge(merged ?? {}, rules);
  }
  return merged;
}

function deepMerge(a: Rules, b: Rules): Rules {
  const out: Rules = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isJsonObject(prev) && isJsonObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function sub(rules: Rules | undefined, key: string): Rules | undefined {
  const value = rules?.[key];
  return isJsonObject(value) ? value : undefined;
}

function ruleNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value);
  return undefined;
}

function ruleList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

/** Duration rule value ({seconds, nanos}) in nanoseconds. */
function ruleNanos(value: unknown): bigint | undefined {
  if (!isJsonObject(value)) return undefined;
  const seconds = ruleNumber(value.seconds) ?? 0;
  const nanos = ruleNumber(value.nanos) ?? 0;
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_v, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** Fields of a message by every name proto3 JSON accepts for them. */
const fieldIndexes = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

function fieldIndex(type: protobuf.Type): Map<string, protobuf.Field> {
  let index = fieldIndexes.get(type);
  if (index === undefined) {
    index = new Map();
    for (const field of type.fieldsArray) {
      index.set(field.name, field);
      index.set(lowerCamel(field.name), field);
    }
    fieldIndexes.set(type, index);
  }
  return index;
}

class Walker {
  readonly issues: SchemaIssue[] = [];

  constructor(
    private readonly root: protobuf.Root,
    private readonly options: ProtoJsonOptions,
  ) {}

  fail(path: string, message: string): void {
    this.issues.push({ path: path === "" ? "(root)" : path, message });
  }

  message(type: protobuf.Type, value: unknown, path: string, rules?: Rules): void {
    const name = type.fullName;
    const wrapped = WRAPPERS[name];
    if (wrapped !== undefined) {
      this.scalar(wrapped, value, path, sub(rules, wrapped));
      return;
    }
    switch (name) {
      case ".google.protobuf.Duration":
        this.duration(value, path, sub(rules, "duration"));
        return;
      case ".google.protobuf.Timestamp":
        if (typeof value !== "string" || !TIMESTAMP.test(value)) {
          this.fail(path, `expected an RFC 3339 timestamp, got ${describe(value)}`);
        }
        return;
      case ".google.protobuf.FieldMask":
        if (typeof value !== "string")
          this.fail(path, `expected a field mask string, got ${describe(value)}`);
        return;
      case ".google.protobuf.Struct":
        if (!isJsonObject(value)) this.fail(path, `expected a mapping, got ${describe(value)}`);
        return;
      case ".google.protobuf.ListValue":
        if (!Array.isArray(value)) this.fail(path, `expected a list, got ${describe(value)}`);
        return;
      case ".google.protobuf.Value":
        return;
      case ".google.protobuf.Any":
        this.any(value, path, sub(rules, "any"), undefined);
        return;
    }
    if (!isJsonObject(value)) {
      this.fail(path, `expected a ${type.name} mapping, got ${describe(value)}`);
      return;
    }
    this.fields(type, value, path);
  }

  /** The body of a message given as a JSON object (also the rest of an Any after "@type"). */
  fields(type: protobuf.Type, value: Json, path: string, skip?: string): void {
    const index = fieldIndex(type);
    const seen = new Map<protobuf.Field, string>();
    for (const [key, child] of Object.entries(value)) {
      if (key === skip) continue;
      const childPath = path === "" ? key : `${path}.${key}`;
      const field = index.get(key);
      if (field === undefined) {
        const names = type.fieldsArray.map((f) => f.name);
        const near = names.filter((n) => levenshtein(n, key) <= 2);
        const hint = near.length > 0 ? ` (did you mean ${near.join(" or ")}?)` : "";
        this.fail(childPath, `unknown field "${key}" in ${type.fullName.slice(1)}${hint}`);
        continue;
      }
      const earlier = seen.get(field);
      if (earlier !== undefined) {
        this.fail(childPath, `field ${field.name} is given twice (as ${earlier} and ${key})`);
        continue;
      }
      seen.set(field, key);
      const fieldOptions = field.options ?? {};
      if (fieldOptions.deprecated === true) {
        this.fail(childPath, `field ${field.name} of ${type.name} is deprecated`);
      }
      if (fieldOptions["(envoy.annotations.disallowed_by_default)"] === true) {
        this.fail(childPath, `field ${field.name} of ${type.name} is disallowed by default`);
      }
      if (child === null) {
        this.fail(childPath, `null is not a value for ${field.name}; leave the field out instead`);
        continue;
      }
      this.field(type, field, child, childPath);
    }
    for (const field of type.fieldsArray) {
      if (!seen.has(field)) this.absent(type, field, path === "" ? field.name : `${path}.${field.name}`);
    }
    for (const oneof of type.oneofsArray) {
      const set = oneof.fieldsArray.filter((f) => seen.has(f));
      if (set.length > 1) {
        this.fail(path, `only one of ${set.map((f) => f.name).join(", ")} may be set (oneof ${oneof.name})`);
      }
      if (set.length === 0 && oneof.options?.["(validate.required)"] === true) {
        const names = oneof.fieldsArray.map((f) => f.name).join(", ");
        this.fail(path, `one of ${names} is required in ${type.name}`);
      }
    }
  }

  /** PGV rules that apply to a field left out: required messages, and defaults of scalars and lists. */
  absent(type: protobuf.Type, field: protobuf.Field, path: string): void {
    const rules = pgvRules(field);
    // PGV checks a member of a real oneof only when it is the member that is set.
    if (rules === undefined || inRealOneof(field)) return;
    const required = (kind: string): boolean => sub(rules, kind)?.required === true;
    if (required("message") || required("duration") || required("timestamp") || required("any")) {
      this.fail(path, `field ${field.name} is required in ${type.name}`);
      return;
    }
    if (field.resolvedType instanceof protobuf.Type) return;
    if (field.map) this.mapRules({}, path, sub(rules, "map"));
    else if (field.repeated) this.repeatedRules([], path, sub(rules, "repeated"));
    else if (field.resolvedType instanceof protobuf.Enum)
      this.enumRules(0, field.resolvedType, path, sub(rules, "enum"));
    else this.scalar(field.type, defaultScalar(field.type), path, sub(rules, field.type), field.type);
  }

  field(holder: protobuf.Type, field: protobuf.Field, value: unknown, path: string): void {
    const rules = pgvRules(field);
    const anyHolder = `${holder.fullName.slice(1)}.${field.name}`;
    if (field.map) {
      if (!isJsonObject(value)) {
        this.fail(path, `expected a mapping for ${field.name}, got ${describe(value)}`);
        return;
      }
      const mapRules = sub(rules, "map");
      this.mapRules(value, path, mapRules);
      const keyType = field instanceof protobuf.MapField ? field.keyType : "string";
      for (const [key, item] of Object.entries(value)) {
        const itemPath = `${path}.${key}`;
        this.mapKey(keyType, key, itemPath, sub(sub(mapRules, "keys"), keyType));
        this.single(field, item, itemPath, sub(mapRules, "values"), anyHolder);
      }
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) {
        this.fail(path, `expected a list for ${field.name}, got ${describe(value)}`);
        return;
      }
      const repeatedRules = sub(rules, "repeated");
      this.repeatedRules(value, path, repeatedRules);
      value.forEach((item: unknown, i) => {
        this.single(field, item, `${path}[${i}]`, sub(repeatedRules, "items"), anyHolder);
      });
      return;
    }
    this.single(field, value, path, rules, anyHolder);
  }

  single(
    field: protobuf.Field,
    value: unknown,
    path: string,
    rules: Rules | undefined,
    anyHolder: string,
  ): void {
    if (value === null) {
      this.fail(path, "null is not allowed here");
      return;
    }
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Enum) {
      this.enumValue(resolved, value, path, sub(rules, "enum"));
    } else if (resolved instanceof protobuf.Type) {
      if (sub(rules, "message")?.skip === true) return;
      if (resolved.fullName === ".google.protobuf.Any") this.any(value, path, sub(rules, "any"), anyHolder);
      else this.message(resolved, value, path, rules);
    } else {
      this.scalar(field.type, value, path, sub(rules, field.type), field.type);
    }
  }

  any(value: unknown, path: string, rules: Rules | undefined, holder: string | undefined): void {
    if (!isJsonObject(value)) {
      this.fail(path, `expected a mapping with "@type", got ${describe(value)}`);
      return;
    }
    const url = value["@type"];
    if (typeof url !== "string" || !url.includes("/")) {
      this.fail(path, `"@type" is missing or not a type URL (type.googleapis.com/<message>)`);
      return;
    }
    const inList = ruleList(rules?.in);
    if (inList.length > 0 && !inList.includes(url))
      this.fail(path, `"@type" ${url} is not one of ${inList.join(", ")}`);
    if (ruleList(rules?.not_in).includes(url)) this.fail(path, `"@type" ${url} is not allowed here`);
    const typeName = url.slice(url.lastIndexOf("/") + 1);
    const found = this.lookupType(typeName);
    if (found === undefined) {
      this.fail(`${path}.@type`, `unknown @type ${url}: no such message in Envoy's v3 API`);
      return;
    }
    const prefixes = holder === undefined ? undefined : this.options.anyTypePrefixes?.get(holder);
    if (prefixes !== undefined && !prefixes.some((p) => typeName.startsWith(p))) {
      this.fail(
        `${path}.@type`,
        `@type ${typeName} does not belong here: ${holder ?? ""} takes ${prefixes.join(" or ")}*`,
      );
      return;
    }
    if (SPECIAL_JSON.has(found.fullName)) {
      const extra = Object.keys(value).filter((k) => k !== "@type" && k !== "value");
      if (extra.length > 0)
        this.fail(
          path,
          `a ${found.name} inside an Any takes only "@type" and "value", not ${extra.join(", ")}`,
        );
      if (!("value" in value)) this.fail(path, `a ${found.name} inside an Any needs "value"`);
      else this.message(found, value.value, `${path}.value`);
      return;
    }
    if (TYPED_STRUCTS.has(found.fullName)) {
      this.typedStruct(found, value, path);
      return;
    }
    this.fields(found, value, path, "@type");
  }

  /** Envoy unwraps TypedStruct: its `value` is the config of the message named by `type_url`. */
  typedStruct(found: protobuf.Type, value: Json, path: string): void {
    this.fields(found, value, path, "@type");
    const inner = value.type_url;
    if (typeof inner !== "string") return;
    const innerType = this.lookupType(inner.slice(inner.lastIndexOf("/") + 1));
    if (innerType === undefined) {
      this.fail(`${path}.type_url`, `unknown type ${inner}`);
      return;
    }
    this.message(innerType, value.value ?? {}, `${path}.value`);
  }

  lookupType(name: string): protobuf.Type | undefined {
    if (name === "") return undefined;
    const found = this.root.lookup(name.startsWith(".") ? name : `.${name}`);
    return found instanceof protobuf.Type ? found : undefined;
  }

  enumValue(type: protobuf.Enum, value: unknown, path: string, rules: Rules | undefined): void {
    let number: number;
    if (typeof value === "string") {
      const n = type.values[value];
      if (n === undefined) {
        this.fail(
          path,
          `"${value}" is not a value of enum ${type.name} (${Object.keys(type.values).join(", ")})`,
        );
        return;
      }
      number = n;
    } else if (typeof value === "number" && Number.isInteger(value)) {
      number = value;
    } else {
      this.fail(path, `expected a ${type.name} name, got ${describe(value)}`);
      return;
    }
    const name = type.valuesById[number];
    if (name !== undefined) {
      const valueOptions = type.valuesOptions?.[name];
      if (valueOptions?.deprecated === true)
        this.fail(path, `enum value ${name} of ${type.name} is deprecated`);
      if (valueOptions?.["(envoy.annotations.disallowed_by_default_enum)"] === true) {
        this.fail(path, `enum value ${name} of ${type.name} is disallowed by default`);
      }
    }
    this.enumRules(number, type, path, rules);
  }

  enumRules(number: number, type: protobuf.Enum, path: string, rules: Rules | undefined): void {
    if (rules === undefined) return;
    if (rules.defined_only === true && type.valuesById[number] === undefined) {
      this.fail(path, `${number} is not a defined value of enum ${type.name}`);
    }
    this.numberRules(number, path, rules);
  }

  duration(value: unknown, path: string, rules: Rules | undefined): void {
    const match = typeof value === "string" ? DURATION.exec(value) : null;
    if (match === null) {
      this.fail(path, `expected a duration such as "5s" or "0.25s", got ${describe(value)}`);
      return;
    }
    const seconds = BigInt(match[2] ?? "0");
    if (seconds > MAX_DURATION_SECONDS) {
      this.fail(
        path,
        `duration ${String(value)} is beyond the 10,000-year range of google.protobuf.Duration`,
      );
      return;
    }
    const nanos = seconds * 1_000_000_000n + BigInt((match[3] ?? "").padEnd(9, "0"));
    const signed = match[1] === "-" ? -nanos : nanos;
    if (rules === undefined) return;
    const bound = (key: string): bigint | undefined => ruleNanos(rules[key]);
    const text = String(value);
    const constant = bound("const");
    if (constant !== undefined && signed !== constant)
      this.fail(path, `duration must be exactly ${nanosText(constant)}`);
    const gt = bound("gt");
    const gte = bound("gte");
    const lt = bound("lt");
    const lte = bound("lte");
    if (gt !== undefined && signed <= gt)
      this.fail(path, `duration ${text} must be greater than ${nanosText(gt)}`);
    if (gte !== undefined && signed < gte)
      this.fail(path, `duration ${text} must be at least ${nanosText(gte)}`);
    if (lt !== undefined && signed >= lt)
      this.fail(path, `duration ${text} must be less than ${nanosText(lt)}`);
    if (lte !== undefined && signed > lte)
      this.fail(path, `duration ${text} must be at most ${nanosText(lte)}`);
  }

  scalar(kind: string, value: unknown, path: string, rules: Rules | undefined, fieldType = kind): void {
    switch (kind) {
      case "string":
        if (typeof value !== "string") this.fail(path, `expected a string, got ${describe(value)}`);
        else this.stringRules(value, path, rules);
        return;
      case "bool":
        if (typeof value !== "boolean") this.fail(path, `expected true or false, got ${describe(value)}`);
        else if (rules?.const !== undefined && rules.const !== value)
          this.fail(path, `must be ${JSON.stringify(rules.const)}`);
        return;
      case "bytes":
        if (typeof value !== "string" || !BASE64.test(value))
          this.fail(path, `expected base64 bytes, got ${describe(value)}`);
        else this.bytesRules(Buffer.from(value, "base64"), path, rules);
        return;
      case "double":
      case "float": {
        const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
        if (typeof n !== "number" || (Number.isNaN(n) && value !== "NaN")) {
          this.fail(path, `expected a number, got ${describe(value)}`);
        } else this.numberRules(n, path, rules);
        return;
      }
    }
    const range = INT_RANGES[kind];
    if (range === undefined) {
      this.fail(path, `cannot check values of proto type ${fieldType}`);
      return;
    }
    const integer =
      typeof value === "number" && Number.isInteger(value)
        ? BigInt(value)
        : typeof value === "string" && /^-?\d+$/.test(value)
          ? BigInt(value)
          : undefined;
    if (integer === undefined) {
      this.fail(path, `expected an integer (${kind}), got ${describe(value)}`);
      return;
    }
    if (integer < range[0] || integer > range[1]) {
      this.fail(path, `${integer} is out of range for ${kind}`);
      return;
    }
    this.numberRules(Number(integer), path, rules);
  }

  numberRules(n: number, path: string, rules: Rules | undefined): void {
    if (rules === undefined) return;
    const get = (key: string): number | undefined => ruleNumber(rules[key]);
    const constant = get("const");
    if (constant !== undefined && n !== constant) this.fail(path, `${n} must be exactly ${constant}`);
    const gt = get("gt");
    const gte = get("gte");
    const lt = get("lt");
    const lte = get("lte");
    const lower = gt !== undefined ? n > gt : gte !== undefined ? n >= gte : true;
    const upper = lt !== undefined ? n < lt : lte !== undefined ? n <= lte : true;
    const lowBound = gt ?? gte;
    const highBound = lt ?? lte;
    // PGV: when the upper bound is below the lower one, the rule is "outside the range".
    const exclusive = lowBound !== undefined && highBound !== undefined && highBound < lowBound;
    if (exclusive ? !(lower || upper) : !(lower && upper)) {
      const parts = [
        gt !== undefined ? `> ${gt}` : "",
        gte !== undefined ? `>= ${gte}` : "",
        lt !== undefined ? `< ${lt}` : "",
        lte !== undefined ? `<= ${lte}` : "",
      ].filter((p) => p !== "");
      this.fail(path, `${n} must be ${parts.join(exclusive ? " or " : " and ")}`);
    }
    const inList = ruleList(rules.in).map(ruleNumber);
    if (inList.length > 0 && !inList.includes(n)) this.fail(path, `${n} must be one of ${inList.join(", ")}`);
    if (ruleList(rules.not_in).map(ruleNumber).includes(n)) this.fail(path, `${n} is not allowed`);
  }

  stringRules(s: string, path: string, rules: Rules | undefined): void {
    if (rules === undefined) return;
    if (rules.ignore_empty === true && s === "") return;
    const chars = codePoints(s);
    const bytes = Buffer.byteLength(s);
    const get = (key: string): number | undefined => ruleNumber(rules[key]);
    const shown = JSON.stringify(s);
    const check = (ok: boolean, message: string): void => {
      if (!ok) this.fail(path, message);
    };
    const constant = rules.const;
    if (typeof constant === "string") check(s === constant, `must be exactly "${constant}"`);
    const len = get("len");
    if (len !== undefined) check(chars === len, `${shown} must be ${len} characters long`);
    const minLen = get("min_len");
    if (minLen !== undefined) {
      check(
        chars >= minLen,
        s === "" ? "is required (must not be empty)" : `${shown} must be at least ${minLen} characters`,
      );
    }
    const maxLen = get("max_len");
    if (maxLen !== undefined) check(chars <= maxLen, `${shown} must be at most ${maxLen} characters`);
    const minBytes = get("min_bytes");
    if (minBytes !== undefined)
      check(
        bytes >= minBytes,
        s === "" ? "is required (must not be empty)" : `${shown} must be at least ${minBytes} bytes`,
      );
    const maxBytes = get("max_bytes");
    if (maxBytes !== undefined) check(bytes <= maxBytes, `${shown} must be at most ${maxBytes} bytes`);
    if (typeof rules.pattern === "string") {
      const pattern = jsRegExp(rules.pattern);
      if (pattern !== undefined) check(pattern.test(s), `${shown} does not match ${rules.pattern}`);
    }
    if (typeof rules.prefix === "string")
      check(s.startsWith(rules.prefix), `${shown} must start with "${rules.prefix}"`);
    if (typeof rules.suffix === "string")
      check(s.endsWith(rules.suffix), `${shown} must end with "${rules.suffix}"`);
    if (typeof rules.contains === "string")
      check(s.includes(rules.contains), `${shown} must contain "${rules.contains}"`);
    if (typeof rules.not_contains === "string") {
      check(!s.includes(rules.not_contains), `${shown} must not contain "${rules.not_contains}"`);
    }
    const inList = ruleList(rules.in);
    if (inList.length > 0) check(inList.includes(s), `${shown} must be one of ${inList.join(", ")}`);
    check(!ruleList(rules.not_in).includes(s), `${shown} is not allowed`);
    const strict = rules.strict !== false;
    if (rules.well_known_regex === "HTTP_HEADER_NAME") {
      check(
        strict ? HEADER_NAME.test(s) : headerTextOk(s, false),
        `${shown} is not a valid HTTP header name`,
      );
    }
    if (rules.well_known_regex === "HTTP_HEADER_VALUE") {
      check(headerTextOk(s, strict), `${shown} is not a valid HTTP header value`);
    }
    if (rules.ip === true) check(isIP(s) !== 0, `${shown} is not an IP address`);
    if (rules.ipv4 === true) check(isIP(s) === 4, `${shown} is not an IPv4 address`);
    if (rules.ipv6 === true) check(isIP(s) === 6, `${shown} is not an IPv6 address`);
    if (rules.hostname === true) check(isHostname(s), `${shown} is not a host name`);
    if (rules.address === true)
      check(isIP(s) !== 0 || isHostname(s), `${shown} is not a host name or IP address`);
    if (rules.uri === true) check(URL.canParse(s), `${shown} is not an absolute URI`);
  }

  bytesRules(b: Buffer, path: string, rules: Rules | undefined): void {
    if (rules === undefined) return;
    const minLen = ruleNumber(rules.min_len);
    if (minLen !== undefined && b.length < minLen) this.fail(path, `must be at least ${minLen} bytes`);
    const maxLen = ruleNumber(rules.max_len);
    if (maxLen !== undefined && b.length > maxLen) this.fail(path, `must be at most ${maxLen} bytes`);
  }

  repeatedRules(items: readonly unknown[], path: string, rules: Rules | undefined): void {
    if (rules === undefined) return;
    const min = ruleNumber(rules.min_items);
    if (min !== undefined && items.length < min) {
      this.fail(
        path,
        items.length === 0
          ? `needs at least ${min} item(s)`
          : `has ${items.length} item(s), needs at least ${min}`,
      );
    }
    const max = ruleNumber(rules.max_items);
    if (max !== undefined && items.length > max)
      this.fail(path, `has ${items.length} items, at most ${max} allowed`);
    if (rules.unique === true && new Set(items.map((i) => JSON.stringify(i))).size !== items.length) {
      this.fail(path, "items must be unique");
    }
  }

  mapRules(map: Json, path: string, rules: Rules | undefined): void {
    if (rules === undefined) return;
    const size = Object.keys(map).length;
    const min = ruleNumber(rules.min_pairs);
    if (min !== undefined && size < min) this.fail(path, `needs at least ${min} entr(ies)`);
    const max = ruleNumber(rules.max_pairs);
    if (max !== undefined && size > max) this.fail(path, `has ${size} entries, at most ${max} allowed`);
  }

  mapKey(keyType: string, key: string, path: string, rules: Rules | undefined): void {
    if (keyType === "string") this.stringRules(key, path, rules);
    else if (keyType === "bool") {
      if (key !== "true" && key !== "false") this.fail(path, `map key "${key}" is not true or false`);
    } else this.scalar(keyType, key, path, rules);
  }
}

/** proto3 `optional` puts a field in a synthetic oneof of its own; that is not a choice. */
function inRealOneof(field: protobuf.Field): boolean {
  const oneof = field.partOf;
  return oneof !== null && !(oneof.fieldsArray.length === 1 && field.options?.proto3_optional === true);
}

function defaultScalar(kind: string): unknown {
  if (kind === "string" || kind === "bytes") return "";
  if (kind === "bool") return false;
  return 0;
}

function nanosText(nanos: bigint): string {
  const seconds = Number(nanos) / 1e9;
  return `${seconds}s`;
}

function isHostname(s: string): boolean {
  return (
    s.length > 0 &&
    s.length <= 253 &&
    s
      .replace(/\.$/, "")
      .split(".")
      .every((label) => /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label))
  );
}

/** RE2 patterns from PGV as a JS RegExp; the few RE2-only constructs are not used by Envoy's rules. */
function jsRegExp(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, "u");
  } catch {
    try {
      return new RegExp(pattern);
    } catch {
      return undefined;
    }
  }
}

/**
 * Checks `value` (parsed YAML or JSON) as the proto3 JSON form of message `typeName` in `root`,
 * with the PGV rules of the protos. Returns every violation found (empty when valid).
 */
export function validateProtoJson(
  root: protobuf.Root,
  typeName: string,
  value: unknown,
  options: ProtoJsonOptions = {},
): SchemaIssue[] {
  const type = root.lookupType(typeName);
  const walker = new Walker(root, options);
  walker.message(type, value, "");
  return walker.issues;
}
