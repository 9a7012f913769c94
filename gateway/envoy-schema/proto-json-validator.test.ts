import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { validateProtoJson } from "./proto-json-validator.js";

// The proto3-JSON and PGV rules on a small proto of our own, one rule per case, so each rule is
// shown to both pass and fail (the Envoy test only meets the rules Envoy's config happens to use).

const root = new protobuf.Root();
for (const wellKnown of ["duration", "wrappers", "any"]) {
  const nested = protobuf.common.get(`google/protobuf/${wellKnown}.proto`)?.nested;
  if (nested !== undefined) root.addJSON(nested);
}
protobuf.parse(
  `syntax = "proto3";
  package t;
  import "google/protobuf/duration.proto";
  import "google/protobuf/wrappers.proto";
  import "google/protobuf/any.proto";
  message Inner { string id = 1 [(validate.rules).string = {min_len: 2, max_len: 4}]; }
  message M {
    enum Kind { KIND_UNSET = 0; KIND_A = 1; }
    string header = 1 [(validate.rules).string = {well_known_regex: HTTP_HEADER_NAME}];
    uint32 outside = 2 [(validate.rules).uint32 = {lt: 10, gt: 20}];
    repeated Inner items = 3 [(validate.rules).repeated = {min_items: 1, max_items: 2}];
    google.protobuf.Duration ttl = 4 [(validate.rules).duration = {lte: {seconds: 60}, gte: {nanos: 1000000}}];
    google.protobuf.UInt32Value weight = 5 [(validate.rules).uint32 = {lte: 100}];
    Kind kind = 6 [(validate.rules).enum = {defined_only: true}];
    map<string, Inner> named = 7 [(validate.rules).map = {min_pairs: 1}];
    google.protobuf.Any extra = 8;
    int64 big = 9;
    bytes blob = 10;
    string camel_case_name = 11;
    string old = 12 [deprecated = true];
  }`,
  root,
  { keepCase: true },
);
root.resolveAll();

// header has no ignore_empty, so like PGV an unset (empty) header name fails the regex.
const valid = { items: [{ id: "ab" }], named: { x: { id: "abc" } }, outside: 5, header: "x-a" };

function issues(value: Record<string, unknown>): string[] {
  return validateProtoJson(root, "t.M", { ...valid, ...value }).map((i) => `${i.path}: ${i.message}`);
}

describe("validateProtoJson", () => {
  it("accepts a valid message, with lowerCamel names and the proto3 JSON forms", () => {
    expect(
      issues({
        ttl: "0.5s",
        weight: 100,
        kind: "KIND_A",
        big: "9007199254740993",
        blob: "aGk=",
        camelCaseName: "x",
        header: "x-request-id",
        extra: { "@type": "type.googleapis.com/google.protobuf.UInt32Value", value: 3 },
      }),
    ).toEqual([]);
  });

  it("applies each rule", () => {
    expect(validateProtoJson(root, "t.M", { items: [{ id: "ab" }], named: { x: { id: "abc" } } })).toEqual([
      { path: "header", message: '"" is not a valid HTTP header name' },
    ]);
    expect(issues({ header: "bad header" })).toEqual([
      expect.stringMatching(/^header: .*not a valid HTTP header name/),
    ]);
    expect(issues({ outside: 15 })).toEqual([expect.stringMatching(/^outside: 15 must be > 20 or < 10/)]);
    expect(issues({ items: [] })).toEqual([expect.stringMatching(/^items: needs at least 1/)]);
    expect(issues({ items: [{ id: "a" }, { id: "ab" }, { id: "ab" }] })).toEqual([
      expect.stringMatching(/^items: has 3 items, at most 2/),
      expect.stringMatching(/^items\[0\]\.id: "a" must be at least 2/),
    ]);
    expect(issues({ ttl: "61s" })).toEqual([expect.stringMatching(/^ttl: duration 61s must be at most 60s/)]);
    expect(issues({ ttl: "0s" })).toEqual([
      expect.stringMatching(/^ttl: duration 0s must be at least 0.001s/),
    ]);
    expect(issues({ weight: 101 })).toEqual([expect.stringMatching(/^weight: 101 must be <= 100/)]);
    expect(issues({ kind: 7 })).toEqual([expect.stringMatching(/^kind: 7 is not a defined value/)]);
    expect(issues({ named: {} })).toEqual([expect.stringMatching(/^named: needs at least 1/)]);
    expect(issues({ named: { k: { id: "toolong" } } })).toEqual([
      expect.stringMatching(/^named\.k\.id: .*at most 4/),
    ]);
  });

  it("rejects wrong JSON forms, duplicates, deprecated fields and a missing item field default", () => {
    expect(issues({ big: 1.5 })).toEqual([expect.stringMatching(/^big: expected an integer/)]);
    expect(issues({ blob: "not base64!" })).toEqual([expect.stringMatching(/^blob: expected base64/)]);
    expect(issues({ ttl: 5 })).toEqual([expect.stringMatching(/^ttl: expected a duration/)]);
    expect(issues({ camel_case_name: "a", camelCaseName: "b" })).toEqual([
      expect.stringMatching(/given twice/),
    ]);
    expect(issues({ old: "x" })).toEqual([expect.stringMatching(/^old: .*deprecated/)]);
    expect(issues({ items: [{}] })).toEqual([expect.stringMatching(/^items\[0\]\.id: is required/)]);
    expect(
      issues({ extra: { "@type": "type.googleapis.com/google.protobuf.UInt32Value", value: -1 } }),
    ).toEqual([expect.stringMatching(/^extra\.value: -1 is out of range for uint32/)]);
    expect(issues({ extra: { "@type": "type.googleapis.com/t.Inner", id: "abc", idd: 1 } })).toEqual([
      expect.stringMatching(/^extra\.idd: unknown field "idd" in t\.Inner \(did you mean id\?\)/),
    ]);
  });
});
