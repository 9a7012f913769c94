import { describe, expect, it } from "vitest";
import { PLAINTEXT } from "../../services/shared/tls/tls-settings.js";
import { DEFAULT_WEB_ROOT, readBridgeConfig } from "./bridge-config.js";

describe("readBridgeConfig", () => {
  it("defaults to the design's ports and the built web UI", () => {
    expect(readBridgeConfig({})).toEqual({
      port: 5000,
      host: "127.0.0.1",
      predictAddresses: ["localhost:8000"],
      retrainAddress: "localhost:8080",
      corsOrigins: [],
      webRoot: DEFAULT_WEB_ROOT,
      tls: PLAINTEXT,
    });
    expect(DEFAULT_WEB_ROOT.replaceAll("\\", "/")).toMatch(/gateway\/web\/dist\/?$/);
  });

  it("derives default upstreams from PREDICT_PORT and RETRAIN_PORT", () => {
    const config = readBridgeConfig({ PREDICT_PORT: "9000", RETRAIN_PORT: "9090" });
    expect(config.predictAddresses).toEqual(["localhost:9000"]);
    expect(config.retrainAddress).toEqual("localhost:9090");
  });

  it("reads lists of predict addresses and origins", () => {
    const config = readBridgeConfig({
      GATEWAY_PORT: "0",
      PREDICT_ADDRS: " localhost:8000, 127.0.0.1:8001 ,[::1]:8002",
      RETRAIN_ADDR: "retrain.local:8080",
      CORS_ORIGINS: "https://liver.example.org, http://localhost:5173/",
      WEB_ROOT: "/srv/ui",
    });
    expect(config.port).toBe(0);
    expect(config.predictAddresses).toEqual(["localhost:8000", "127.0.0.1:8001", "[::1]:8002"]);
    expect(config.retrainAddress).toBe("retrain.local:8080");
    expect(config.corsOrigins).toEqual(["https://liver.example.org", "http://localhost:5173"]);
    expect(config.webRoot).toBe("/srv/ui");
  });

  it("names the variable and what it accepts when a value is wrong", () => {
    expect(() => readBridgeConfig({ GATEWAY_PORT: "70000" })).toThrow(/GATEWAY_PORT=70000 .* 0 to 65535/);
    expect(() => readBridgeConfig({ PREDICT_ADDRS: "localhost" })).toThrow(
      /PREDICT_ADDRS: "localhost" is not host:port/,
    );
    expect(() => readBridgeConfig({ RETRAIN_ADDR: "h:0" })).toThrow(/RETRAIN_ADDR: .* port from 1 to 65535/);
    expect(() => readBridgeConfig({ CORS_ORIGINS: "*" })).toThrow(/CORS_ORIGINS: "\*" is not allowed/);
    expect(() => readBridgeConfig({ CORS_ORIGINS: "https://*.example.org" })).toThrow(/not allowed/);
    expect(() => readBridgeConfig({ CORS_ORIGINS: "https://a.org/app" })).toThrow(/no path/);
    expect(() => readBridgeConfig({ CORS_ORIGINS: "liver.example.org" })).toThrow(/is not an origin/);
    // Browsers send "null" from sandboxed frames and file: pages; it must never be allowed.
    for (const value of ["null", "file:///tmp/page.html", "javascript:alert(1)", "https://a.org?x=1"]) {
      expect(() => readBridgeConfig({ CORS_ORIGINS: value }), value).toThrow(/is not an origin/);
    }
  });
});
