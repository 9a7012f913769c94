import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { GATEWAY_DEFAULTS } from "./bridge/bridge-config.js";
import { GrpcWebBridge } from "./bridge/grpc-web-bridge.js";
import { PAGE_CONTENT_SECURITY_POLICY, pageSecurityHeaders } from "./bridge/page-security-headers.js";
import { buildWeb } from "./web/build.js";
import { NON_PUBLIC_METHOD_PATHS, PUBLIC_METHODS, RETRIED_BY_GATEWAY } from "./public-methods.js";
import { DEFAULT_WATCH_STREAMS_TOTAL } from "../services/retrain/watch-stream-quota.js";

// Envoy is not installed here, so this checks envoy.yaml statically against the one list of
// public methods and the design's defaults.
// Envoy's own schema (every field, type and validate rule) is checked in
// envoy-schema/envoy-bootstrap-validator.test.ts.

/** Default heartbeat interval of WatchModelVersions (docs/architecture.md, Configuration: the stream must never look idle). */
const HEARTBEAT_SECONDS = 10;

type Obj = Record<string, unknown>;

function obj(value: unknown, where: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected a mapping, got ${JSON.stringify(value)}`);
  }
  return value as Obj;
}

function arr(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list, got ${JSON.stringify(value)}`);
  return value;
}

function str(value: unknown, where: string): string {
  if (typeof value !== "string") throw new Error(`${where}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

/** Envoy duration string ("60s", "0s", "1.5s") to seconds. */
function seconds(value: unknown, where: string): number {
  const match = /^(\d+(?:\.\d+)?)s$/.exec(str(value, where));
  if (match === null) throw new Error(`${where}: "${String(value)}" is not a duration like 60s`);
  return Number(match[1]);
}

/** Every mapping anywhere in the tree, for checks that must hold wherever a field appears. */
function allMappings(value: unknown, out: Obj[] = []): Obj[] {
  if (Array.isArray(value)) for (const v of value) allMappings(v, out);
  else if (typeof value === "object" && value !== null) {
    out.push(value as Obj);
    for (const v of Object.values(value)) allMappings(v, out);
  }
  return out;
}

const text = readFileSync(new URL("./envoy.yaml", import.meta.url), "utf8");
const config = obj(parse(text), "envoy.yaml");
const staticResources = obj(config.static_resources, "static_resources");
const listeners = arr(staticResources.listeners, "listeners").map((l, i) => obj(l, `listeners[${i}]`));
const clusters = arr(staticResources.clusters, "clusters").map((c, i) => obj(c, `clusters[${i}]`));
const clusterByName = new Map(clusters.map((c) => [str(c.name, "cluster.name"), c]));

function connectionManager(listener: Obj): Obj {
  const chains = arr(listener.filter_chains, "filter_chains");
  const filters = arr(obj(chains[0], "filter_chains[0]").filters, "filters").map((f) => obj(f, "filter"));
  const hcm = filters.find((f) => f.name === "envoy.filters.network.http_connection_manager");
  return obj(obj(hcm, "http_connection_manager").typed_config, "http_connection_manager.typed_config");
}

const listener = listeners[0];
const hcm = connectionManager(obj(listener, "listeners[0]"));
const virtualHosts = arr(obj(hcm.route_config, "route_config").virtual_hosts, "virtual_hosts").map((v) =>
  obj(v, "virtual_host"),
);
const routes = virtualHosts.flatMap((vh) =>
  arr(vh.routes, `virtual_host ${String(vh.name)}.routes`).map((r) => obj(r, "route")),
);

/** Routes that forward an RPC (the others answer the page's files directly). */
const rpcRoutes = routes.filter((r) => r.route !== undefined);
const pageRoutes = routes.filter((r) => r.direct_response !== undefined);

/** The file Envoy answers GET `path` with (basename under /etc/envoy-web), if a page route matches. */
function pageRouteFile(path: string): string | undefined {
  for (const route of routes) {
    const match = obj(route.match, "route.match");
    const hit =
      typeof match.path === "string"
        ? match.path === path
        : typeof match.prefix === "string" && path.startsWith(match.prefix);
    if (!hit) continue;
    return route.direct_response === undefined ? undefined : routeFileName(route);
  }
  return undefined;
}

/** The basename under /etc/envoy-web that a page route answers with. */
function routeFileName(route: Obj): string {
  const body = obj(obj(route.direct_response, "direct_response").body, "body");
  return str(body.filename, "filename").replace(/^\/etc\/envoy-web\//, "");
}

function unique<T>(value: T, index: number, all: readonly T[]): boolean {
  return all.indexOf(value) === index;
}

function routedPath(route: Obj): string {
  const match = obj(route.match, "route.match");
  const keys = Object.keys(match);
  // Only exact paths: a prefix or regex could expose methods that are not on the public list.
  expect(keys, `route match ${JSON.stringify(match)} must be an exact path only`).toEqual(["path"]);
  return str(match.path, "route.match.path");
}

/** The cluster of the hospital's OIDC identity provider (sign-in, JWKS). */
const IDP_CLUSTER = "liver_idp";

/** The hospital's OpenTelemetry collector (Envoy's span export), outside the mesh. */
const OTEL_CLUSTER = "otel_collector";

const clusterForTarget = { predict: "liver_predict", retrain: "liver_retrain" } as const;

describe("envoy.yaml", () => {
  it("has one listener, on the gateway port", () => {
    expect(listeners).toHaveLength(1);
    const address = obj(obj(obj(listener, "listener").address, "address").socket_address, "socket_address");
    expect(address.port_value).toBe(GATEWAY_DEFAULTS.gatewayPort);
  });

  it("runs grpc_web and cors before the router, router last", () => {
    const names = arr(hcm.http_filters, "http_filters").map((f) => str(obj(f, "http_filter").name, "name"));
    const grpcWeb = names.indexOf("envoy.filters.http.grpc_web");
    const cors = names.indexOf("envoy.filters.http.cors");
    const router = names.indexOf("envoy.filters.http.router");
    expect(grpcWeb).toBeGreaterThanOrEqual(0);
    expect(cors).toBeGreaterThanOrEqual(0);
    expect(router).toBe(names.length - 1);
    expect(grpcWeb).toBeLessThan(router);
    expect(cors).toBeLessThan(router);
  });

  it("routes exactly the public methods, each to its service's cluster", () => {
    const routed = rpcRoutes.map(routedPath);
    expect(new Set(routed).size, "a path is routed twice").toBe(routed.length);
    expect([...routed].sort()).toEqual(PUBLIC_METHODS.map((m) => m.path).sort());
    for (const m of PUBLIC_METHODS) {
      const route = rpcRoutes.find((r) => routedPath(r) === m.path);
      const action = obj(route?.route, `route for ${m.path}`);
      expect(action.cluster, m.path).toBe(clusterForTarget[m.target]);
      expect(clusterByName.has(str(action.cluster, `${m.path} cluster`)), `${m.path} cluster exists`).toBe(
        true,
      );
    }
  });

  it("never routes admin or internal methods, and answers directly only with the page's files", () => {
    const routed = new Set(rpcRoutes.map(routedPath));
    for (const path of Object.keys(NON_PUBLIC_METHOD_PATHS)) expect(routed.has(path), path).toBe(false);
    expect(rpcRoutes.length + pageRoutes.length, "every route forwards or serves a page file").toBe(
      routes.length,
    );
    for (const route of rpcRoutes) {
      expect(Object.keys(route).sort(), "an RPC route must only forward").toEqual(["match", "route"]);
    }
    const rpcPaths = [...PUBLIC_METHODS.map((m) => m.path), ...Object.keys(NON_PUBLIC_METHOD_PATHS)];
    for (const route of pageRoutes) {
      expect(Object.keys(route).sort()).toEqual(["direct_response", "match", "response_headers_to_add"]);
      const body = obj(obj(route.direct_response, "direct_response").body, "body");
      expect(str(body.filename, "filename")).toMatch(/^\/etc\/envoy-web\/[a-z]+\.(html|js|css)$/);
      // A page route never swallows an RPC path (nor a prefix of one).
      for (const path of rpcPaths) expect(pageRouteFile(path), path).toBeUndefined();
    }
  });

  it("lets the admin-only methods through only with a verified JWT holding the admin role", () => {
    const httpFilters = arr(hcm.http_filters, "http_filters").map((f) => obj(f, "http_filter"));
    const jwt = obj(
      httpFilters.find((f) => f.name === "envoy.filters.http.jwt_authn")?.typed_config,
      "jwt_authn typed_config",
    );
    const rules = arr(jwt.rules, "jwt_authn rules").map((r) => obj(r, "jwt_authn rule"));
    const lua = str(
      obj(
        obj(httpFilters.find((f) => f.name === "envoy.filters.http.lua")?.typed_config, "lua typed_config")
          .default_source_code,
        "default_source_code",
      ).inline_string,
      "lua inline_string",
    );
    const adminOnly = PUBLIC_METHODS.filter((m) => m.signedInAdminOnly);
    expect(adminOnly.length).toBeGreaterThan(0);
    for (const m of adminOnly) {
      // The first rule that matches the path decides: it must require the IdP's token.
      const rule = rules.find((r) => {
        const match = obj(r.match, "rule.match");
        return match.path === m.path || (typeof match.prefix === "string" && m.path.startsWith(match.prefix));
      });
      expect(obj(rule?.requires, `${m.path} requires`), m.path).toEqual({ provider_name: "liver_idp" });
      expect(lua, `${m.path} is role-checked in Lua`).toContain(`["${m.path}"] = true`);
    }
    expect(lua).toContain('local ADMIN_ROLE = "liver-admin"');
    expect(lua).toContain('local ROLES_CLAIM = "roles"');
    // No other public method is role-checked: clinicians' calls pass as before.
    for (const m of PUBLIC_METHODS.filter((p) => !p.signedInAdminOnly)) expect(lua).not.toContain(m.path);
  });

  it("disables the route timeout of the stream and bounds every unary method", () => {
    for (const m of PUBLIC_METHODS) {
      const route = rpcRoutes.find((r) => routedPath(r) === m.path);
      const action = obj(route?.route, m.path);
      expect(seconds(action.timeout, `${m.path} timeout`), m.path).toBe(m.timeoutSeconds);
      if (m.serverStreaming) {
        expect(seconds(action.idle_timeout, `${m.path} idle_timeout`)).toBeGreaterThanOrEqual(
          3 * HEARTBEAT_SECONDS,
        );
      } else {
        const max = obj(action.max_stream_duration, `${m.path} max_stream_duration`);
        expect(seconds(max.grpc_timeout_header_max, m.path)).toBe(m.timeoutSeconds);
      }
    }
  });

  it("retries SubmitFeedback (idempotent by its token) on unavailable and reset, within a retry budget; no other Retrain method", () => {
    for (const m of PUBLIC_METHODS.filter((p) => p.target === "retrain")) {
      const action = obj(rpcRoutes.find((r) => routedPath(r) === m.path)?.route, m.path);
      if (!RETRIED_BY_GATEWAY.has(m.path)) {
        expect(action.retry_policy, `${m.path} must not be retried by the gateway`).toBeUndefined();
        continue;
      }
      const policy = obj(action.retry_policy, `${m.path} retry_policy`);
      const on = str(policy.retry_on, "retry_on").split(",");
      expect(on).toEqual(expect.arrayContaining(["unavailable", "reset", "connect-failure"]));
      expect(policy.num_retries).toBeGreaterThanOrEqual(1);
      // Every try fits in the route timeout with room for a second one.
      expect(seconds(policy.per_try_timeout, "per_try_timeout")).toBeLessThan(m.timeoutSeconds / 2);
    }
    const thresholds = arr(
      obj(clusterByName.get("liver_retrain")?.circuit_breakers, "liver_retrain circuit_breakers").thresholds,
      "thresholds",
    );
    const budget = obj(obj(thresholds[0], "thresholds[0]").retry_budget, "retry_budget");
    const percent = obj(budget.budget_percent, "budget_percent").value;
    expect(typeof percent === "number" && percent > 0 && percent <= 25, "a bounded retry budget").toBe(true);
    // Pages' open version streams count against the same budget: it must exceed what Retrain
    // lets them hold, or streams would leave no room for SubmitFeedback.
    const maxRequests = obj(thresholds[0], "thresholds[0]").max_requests;
    expect(typeof maxRequests === "number" && maxRequests >= 2 * DEFAULT_WATCH_STREAMS_TOTAL).toBe(true);
  });

  it("appends the caller's address to x-forwarded-for and trusts no hop before it", () => {
    expect(hcm.use_remote_address).toBe(true);
    expect(hcm.xff_num_trusted_hops).toBe(0);
  });

  it("traces with OpenTelemetry to the collector cluster, and lets the page send traceparent", () => {
    const tracing = obj(hcm.tracing, "tracing");
    const provider = obj(tracing.provider, "tracing.provider");
    expect(provider.name).toBe("envoy.tracers.opentelemetry");
    const config = obj(provider.typed_config, "tracing.provider.typed_config");
    expect(config["@type"]).toBe("type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig");
    const grpcService = obj(config.grpc_service, "grpc_service");
    expect(obj(grpcService.envoy_grpc, "envoy_grpc").cluster_name).toBe(OTEL_CLUSTER);
    const collector = obj(clusterByName.get(OTEL_CLUSTER), OTEL_CLUSTER);
    expect(collector.type).toBe("STRICT_DNS");
    const policy = obj(
      obj(virtualHosts[0]?.typed_per_filter_config, "typed_per_filter_config")["envoy.filters.http.cors"],
      "cors",
    );
    const allowed = str(policy.allow_headers, "allow_headers")
      .split(",")
      .map((h) => h.trim());
    expect(allowed).toEqual(expect.arrayContaining(["traceparent", "tracestate"]));
  });

  it("keeps idle timeouts well above the version stream's heartbeat", () => {
    expect(seconds(hcm.stream_idle_timeout, "stream_idle_timeout")).toBeGreaterThanOrEqual(
      3 * HEARTBEAT_SECONDS,
    );
    const common = obj(hcm.common_http_protocol_options, "common_http_protocol_options");
    expect(seconds(common.idle_timeout, "idle_timeout")).toBeGreaterThanOrEqual(3 * HEARTBEAT_SECONDS);
  });

  it("allows only configured CORS origins, never *, and exposes the grpc status headers", () => {
    const policies = allMappings(config).filter(
      (m) => m["@type"] === "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
    );
    expect(policies.length).toBeGreaterThan(0);
    for (const policy of policies) {
      const origins = arr(policy.allow_origin_string_match, "allow_origin_string_match").map((o) =>
        obj(o, "origin matcher"),
      );
      expect(origins.length).toBeGreaterThan(0);
      for (const origin of origins) {
        // Exact origins only: a prefix, suffix or regex matcher is how "*" sneaks back in.
        expect(Object.keys(origin)).toEqual(["exact"]);
        const value = str(origin.exact, "exact origin");
        expect(value).not.toContain("*");
        expect(new URL(value).origin).toBe(value);
      }
      const exposed = str(policy.expose_headers, "expose_headers")
        .split(",")
        .map((h) => h.trim());
      expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message"]));
      const allowed = str(policy.allow_headers, "allow_headers")
        .split(",")
        .map((h) => h.trim());
      expect(allowed).toEqual(
        expect.arrayContaining(["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"]),
      );
      expect(allowed).not.toContain("authorization");
    }
    // No legacy or other origin field anywhere allows every origin.
    expect(text).not.toMatch(/allow_origin[^\n]*\*|safe_regex/);
  });

  it("balances Predict per request over a headless Service and speaks HTTP/2 to both services", () => {
    const expected = [
      {
        name: "liver_predict",
        host: "liver-predict.liver.svc.cluster.local",
        port: GATEWAY_DEFAULTS.predictPort,
      },
      {
        name: "liver_retrain",
        host: "liver-retrain.liver.svc.cluster.local",
        port: GATEWAY_DEFAULTS.retrainPort,
      },
    ];
    // Besides the services, only the identity provider (oauth2 token endpoint, JWKS), over TLS.
    expect([...clusterByName.keys()].filter((n) => n !== IDP_CLUSTER && n !== OTEL_CLUSTER).sort()).toEqual(
      expected.map((e) => e.name).sort(),
    );
    const idp = obj(clusterByName.get(IDP_CLUSTER), IDP_CLUSTER);
    expect(obj(idp.transport_socket, "liver_idp.transport_socket").name).toBe("envoy.transport_sockets.tls");
    for (const { name, host, port } of expected) {
      const cluster = obj(clusterByName.get(name), name);
      expect(cluster.type, name).toBe("STRICT_DNS");
      expect(cluster.lb_policy, name).toBe("ROUND_ROBIN");
      const protocol = obj(
        obj(cluster.typed_extension_protocol_options, `${name} typed_extension_protocol_options`)[
          "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
        ],
        `${name} HttpProtocolOptions`,
      );
      expect(protocol["@type"]).toBe(
        "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      );
      obj(obj(protocol.explicit_http_config, `${name} explicit_http_config`).http2_protocol_options, "http2");
      const endpoints = arr(obj(cluster.load_assignment, `${name} load_assignment`).endpoints, "endpoints");
      const lb = arr(obj(endpoints[0], "endpoints[0]").lb_endpoints, "lb_endpoints");
      expect(lb).toHaveLength(1);
      const socket = obj(
        obj(obj(obj(lb[0], "lb_endpoint").endpoint, "endpoint").address, "address").socket_address,
        "socket_address",
      );
      expect(socket.address, name).toBe(host);
      expect(socket.port_value, name).toBe(port);
    }
  });
});

describe("TLS on every hop", () => {
  const TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.";

  it("the listener serves HTTPS with a certificate re-read when its Secret is renewed", () => {
    const chain = obj(arr(obj(listener, "listener").filter_chains, "filter_chains")[0], "filter_chains[0]");
    const context = obj(
      obj(chain.transport_socket, "listener transport_socket").typed_config,
      "typed_config",
    );
    expect(context["@type"]).toBe(`${TLS}DownstreamTlsContext`);
    const common = obj(context.common_tls_context, "common_tls_context");
    expect(common.alpn_protocols).toEqual(["h2", "http/1.1"]);
    const certificate = obj(arr(common.tls_certificates, "tls_certificates")[0], "tls_certificates[0]");
    expect(certificate.watched_directory).toBeDefined();
  });

  // The mesh's own services; the identity provider (liver_idp) is checked with the sign-in filters.
  const meshClusters = clusters.filter((c) => c.name !== IDP_CLUSTER && c.name !== OTEL_CLUSTER);
  it.each(meshClusters.map((c) => [String(c.name), c] as const))(
    "%s: TLS with the gateway's client certificate, verifying the service's CA and name",
    (name, cluster) => {
      const context = obj(
        obj(cluster.transport_socket, `${name} transport_socket`).typed_config,
        "typed_config",
      );
      expect(context["@type"]).toBe(`${TLS}UpstreamTlsContext`);
      const common = obj(context.common_tls_context, "common_tls_context");
      expect(common.alpn_protocols).toEqual(["h2"]);
      expect(arr(common.tls_certificates, "tls_certificates")).toHaveLength(1);
      const validation = obj(common.validation_context, "validation_context");
      expect(obj(validation.trusted_ca, "trusted_ca").filename).toMatch(/ca\.crt$/);
      const host = allMappings(cluster.load_assignment).find((m) => typeof m.address === "string")?.address;
      expect(context.sni).toBe(host);
      expect(arr(validation.match_typed_subject_alt_names, "match_typed_subject_alt_names")).toEqual([
        { san_type: "DNS", matcher: { exact: host } },
      ]);
    },
  );
});

describe("the page on the gateway's own origin: Envoy's routes, the Envoy image's page and the local bridge agree", () => {
  let buildDir: string;
  let envoyDir: string;
  let built: string[];
  let bridge: GrpcWebBridge;
  let bridgePort: number;

  beforeAll(async () => {
    buildDir = mkdtempSync(path.join(tmpdir(), "web-page-"));
    // The Dockerfile's web stage builds with --envoy-dir; its envoy stage copies that folder
    // to /etc/envoy-web (k8s-manifests/manifests.test.ts checks the Dockerfile side).
    envoyDir = path.join(buildDir, "envoy-web");
    await buildWeb({ outDir: path.join(buildDir, "dist"), envoyDir });
    built = readdirSync(path.join(buildDir, "dist"));
    bridge = new GrpcWebBridge({
      predictAddresses: ["127.0.0.1:1"],
      retrainAddress: "127.0.0.1:1",
      webRoot: path.join(buildDir, "dist"),
      logger: pino({ level: "silent" }),
    });
    bridgePort = (await bridge.listen(0)).port;
  });

  afterAll(async () => {
    await bridge.close();
    rmSync(buildDir, { recursive: true, force: true });
  });

  const copyDir = (): URL => pathToFileURL(`${envoyDir}/`);

  it("the Envoy page folder holds every built file, under the names Envoy's routes read", () => {
    expect(built.length).toBeGreaterThanOrEqual(3);
    for (const name of built) {
      const file = pageRouteFile(`/${name}`);
      expect(file, `Envoy routes /${name}`).toBeDefined();
      const fresh = readFileSync(path.join(buildDir, "dist", name));
      const copy = readFileSync(new URL(file ?? "", copyDir()));
      expect(copy.equals(fresh), `${file ?? ""} differs from ${name}`).toBe(true);
    }
    expect(readdirSync(envoyDir).sort()).toEqual(pageRoutes.map(routeFileName).filter(unique).sort());
    expect(pageRouteFile("/")).toBe("index.html");
  });

  it("every path Envoy answers with a page file, the bridge answers with the same bytes", async () => {
    const paths = ["/", ...built.map((name) => `/${name}`)];
    for (const urlPath of paths) {
      const file = pageRouteFile(urlPath);
      const response = await fetch(`http://127.0.0.1:${bridgePort}${urlPath}`);
      expect(response.status, urlPath).toBe(200);
      const body = Buffer.from(await response.arrayBuffer());
      expect(body.equals(readFileSync(new URL(file ?? "", copyDir()))), urlPath).toBe(true);
    }
  });

  it("each page route's content type is what the bridge sends for that file", async () => {
    for (const route of pageRoutes) {
      const match = obj(route.match, "match");
      const prefix = typeof match.prefix === "string" ? match.prefix : str(match.path, "path");
      const name = built.find((n) => `/${n}`.startsWith(prefix)) ?? "";
      const urlPath = typeof match.path === "string" ? match.path : `/${name}`;
      const response = await fetch(`http://127.0.0.1:${bridgePort}${urlPath}`);
      await response.arrayBuffer();
      const headers = arr(route.response_headers_to_add, "response_headers_to_add").map((h) =>
        obj(obj(h, "header option").header, "header"),
      );
      expect(headers.find((h) => h.key === "content-type")?.value, urlPath).toBe(
        response.headers.get("content-type"),
      );
    }
  });

  it("every page route sends the bridge's security headers, HSTS included (the listener is HTTPS only)", async () => {
    const expected = pageSecurityHeaders(true);
    expect(Object.keys(expected)).toEqual(
      expect.arrayContaining(["content-security-policy", "referrer-policy", "strict-transport-security"]),
    );
    expect(PAGE_CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(PAGE_CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(pageRoutes.length).toBeGreaterThanOrEqual(4);
    for (const route of pageRoutes) {
      const where = JSON.stringify(route.match);
      const headers = new Map(
        arr(route.response_headers_to_add, "response_headers_to_add").map((h) => {
          const header = obj(obj(h, "header option").header, "header");
          return [str(header.key, "key").toLowerCase(), str(header.value, "value")] as const;
        }),
      );
      for (const [name, value] of Object.entries(expected))
        expect(headers.get(name), `${where} ${name}`).toBe(value);
    }
    // The bridge over plain HTTP: the same headers without HSTS.
    const response = await fetch(`http://127.0.0.1:${bridgePort}/`);
    await response.arrayBuffer();
    for (const [name, value] of Object.entries(pageSecurityHeaders(false))) {
      expect(response.headers.get(name), `bridge ${name}`).toBe(value);
    }
    expect(response.headers.get("strict-transport-security")).toBeNull();
  });
});
