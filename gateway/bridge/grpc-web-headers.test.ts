import { describe, expect, it } from "vitest";
import {
  MAX_METADATA_ENTRIES,
  Refusal,
  formatGrpcTimeout,
  isHttpOnlyHeader,
  parseGrpcTimeout,
  requestHeaders,
  withForwardedFor,
} from "./grpc-web-headers.js";

describe("request metadata", () => {
  it("forwards call metadata and drops HTTP-only, browser and grpc-web headers", () => {
    const md = requestHeaders({
      host: "localhost:5000",
      connection: "keep-alive",
      "content-type": "application/grpc-web+proto",
      "content-length": "12",
      cookie: "session=1",
      origin: "https://liver.example.org",
      "sec-fetch-mode": "cors",
      "user-agent": "Mozilla/5.0",
      "x-grpc-web": "1",
      "x-user-agent": "grpc-web-javascript/0.1",
      "grpc-timeout": "5S",
      "x-request-id": "abc-123",
      "x-trace-bin": Buffer.from([1, 2, 255]).toString("base64"),
    });
    expect(Object.keys(md).sort()).toEqual(["x-request-id", "x-trace-bin"]);
    expect(md["x-request-id"]).toBe("abc-123");
    expect(Buffer.from(md["x-trace-bin"] ?? "", "base64")).toEqual(Buffer.from([1, 2, 255]));
  });

  it("splits repeated binary values but keeps commas in text values", () => {
    const md = requestHeaders({ "x-b-bin": "AQ==, Ag", "x-note": "a, b" });
    expect((md["x-b-bin"] ?? "").split(",").map((v) => [...Buffer.from(v, "base64")])).toEqual([[1], [2]]);
    expect(md["x-b-bin"]).toBe("AQ==,Ag==");
    expect(md["x-note"]).toBe("a, b");
  });

  it("refuses a text value gRPC cannot carry, naming the header", () => {
    expect(() => requestHeaders({ "x-note": "caf\u00e9" })).toThrow(Refusal);
    expect(() => requestHeaders({ "x-note": "caf\u00e9" })).toThrow(/header x-note is not printable ASCII/);
  });

  it("classifies hop and browser headers", () => {
    expect(isHttpOnlyHeader("transfer-encoding")).toBe(true);
    expect(isHttpOnlyHeader("sec-ch-ua")).toBe(true);
    expect(isHttpOnlyHeader("grpc-status")).toBe(true);
    expect(isHttpOnlyHeader("x-request-id")).toBe(false);
    // Never relayed either way: an upstream's cookie or CORS grant is not the browser's to get.
    expect(isHttpOnlyHeader("set-cookie")).toBe(true);
    expect(isHttpOnlyHeader("access-control-allow-credentials")).toBe(true);
  });

  it("drops the headers a request names in Connection: they are for this hop only", () => {
    const md = requestHeaders({
      connection: "keep-alive, X-Secret",
      "x-secret": "for the hop",
      "x-call": "1",
    });
    expect(md).toEqual({ "x-call": "1" });
  });

  it("refuses more metadata headers than a gRPC server accepts, saying how many pass", () => {
    const many = (count: number): Record<string, string> =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-h${i}`, "v"]));
    expect(Object.keys(requestHeaders(many(MAX_METADATA_ENTRIES)))).toHaveLength(MAX_METADATA_ENTRIES);
    expect(() => requestHeaders(many(MAX_METADATA_ENTRIES + 1))).toThrow(
      new RegExp(`more than ${MAX_METADATA_ENTRIES} metadata headers`),
    );
  });
});

describe("grpc-timeout", () => {
  it("reads every unit", () => {
    expect(parseGrpcTimeout("2H")).toBe(7_200_000);
    expect(parseGrpcTimeout("3M")).toBe(180_000);
    expect(parseGrpcTimeout("5S")).toBe(5_000);
    expect(parseGrpcTimeout("250m")).toBe(250);
    expect(parseGrpcTimeout("1500u")).toBe(1.5);
    expect(parseGrpcTimeout("99999999n")).toBeCloseTo(99.999999);
  });

  it("writes a deadline upstream in at most 8 digits, never shorter than given", () => {
    expect(formatGrpcTimeout(250)).toBe("250m");
    expect(formatGrpcTimeout(0.2)).toBe("1m");
    expect(formatGrpcTimeout(99_999_999)).toBe("99999999m");
    expect(formatGrpcTimeout(180_000_000)).toBe("180000S"); // 50 hours
    expect(formatGrpcTimeout(2_147_483_647)).toBe("2147484S"); // the longest timer, 24.8 days
    expect(formatGrpcTimeout(1e12)).toBe("16666667M");
    expect(formatGrpcTimeout(1e18)).toBe("99999999H"); // beyond 11,000 years: the longest there is
    for (const ms of [1, 999.5, 123_456_789, 2_147_483_647]) {
      const written = formatGrpcTimeout(ms);
      expect(written).toMatch(/^\d{1,8}[HMSm]$/);
      expect(parseGrpcTimeout(written)).toBeGreaterThanOrEqual(ms);
    }
  });

  it("refuses malformed values naming the syntax", () => {
    for (const bad of ["", "5", "S", "123456789S", "1.5S", "5s", "-1S"]) {
      expect(() => parseGrpcTimeout(bad), bad).toThrow(/1 to 8 digits followed by one of H, M, S, m, u, n/);
    }
  });
});

describe("withForwardedFor", () => {
  it("appends the socket address after what the browser sent, so the last entry is the bridge's", () => {
    expect(withForwardedFor({}, "192.0.2.10")).toEqual({ "x-forwarded-for": "192.0.2.10" });
    expect(withForwardedFor({ "x-forwarded-for": "203.0.113.9" }, "192.0.2.10")).toEqual({
      "x-forwarded-for": "203.0.113.9, 192.0.2.10",
    });
    expect(withForwardedFor({ "x-forwarded-for": "  " }, "2001:db8::1")).toEqual({
      "x-forwarded-for": "2001:db8::1",
    });
  });

  it("writes IPv4-mapped IPv6 socket addresses as IPv4", () => {
    expect(withForwardedFor({}, "::ffff:127.0.0.1")).toEqual({ "x-forwarded-for": "127.0.0.1" });
  });

  it("drops the browser's header when the socket address is unknown, so a spoofed last entry cannot pass", () => {
    expect(withForwardedFor({ "x-forwarded-for": "203.0.113.9", a: "b" }, undefined)).toEqual({ a: "b" });
  });

  it("drops a browser's x-liver-site: the bridge is trusted, so a sent site would pass for its own", () => {
    expect(withForwardedFor({ "x-liver-site": "clinic-a", a: "b" }, "192.0.2.10")).toEqual({
      a: "b",
      "x-forwarded-for": "192.0.2.10",
    });
    expect(withForwardedFor({ "x-liver-site": "clinic-a" }, undefined)).toEqual({});
  });
});
