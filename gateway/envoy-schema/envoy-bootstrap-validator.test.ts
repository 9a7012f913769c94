import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { validateEnvoyBootstrap, validateEnvoyBootstrapYaml } from "./envoy-bootstrap-validator.js";
import type { SchemaIssue } from "./proto-json-validator.js";

// Envoy's own v3 API schema (from @grpc/grpc-js-xds), applied to the project's Envoy config.
// Every negative control starts from the real gateway/envoy.yaml and changes one thing, so a
// validator that accepted everything, or rejected everything, fails here.

const GATEWAY_YAML = readFileSync(new URL("../envoy.yaml", import.meta.url), "utf8");

type Node = Record<string, unknown>;

/** A fresh, mutable copy of the gateway config. */
function gateway(): Node {
  return parse(GATEWAY_YAML) as Node;
}

/** Walks a dotted path with [i] indexes into a parsed config, for setting up a mutation. */
function at(root: Node, path: string): Node {
  let node: unknown = root;
  for (const part of path.split(/\.|(?=\[)/)) {
    const index = /^\[(\d+)\]$/.exec(part);
    node = index ? (node as unknown[])[Number(index[1])] : (node as Node)[part];
    if (typeof node !== "object" || node === null)
      throw new Error(`test set-up: nothing at ${part} of ${path}`);
  }
  return node as Node;
}

const HCM = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";
const ROUTES = `${HCM}.route_config.virtual_hosts[0].routes`;
const CLUSTER = "static_resources.clusters[0]";

function expectIssue(issues: readonly SchemaIssue[], path: string, message: RegExp): void {
  expect(issues, JSON.stringify(issues, null, 2)).toContainEqual({
    path,
    message: expect.stringMatching(message) as string,
  });
}

describe("the Envoy config against Envoy's v3 API schema", () => {
  it("gateway/envoy.yaml has no schema errors", () => {
    expect(validateEnvoyBootstrapYaml(GATEWAY_YAML)).toEqual([]);
  });
});

describe("negative controls: each single mistake fails, naming its path", () => {
  it("a misspelt field of a cluster", () => {
    const config = gateway();
    const cluster = at(config, CLUSTER);
    cluster.connect_timout = cluster.connect_timeout;
    delete cluster.connect_timeout;
    expectIssue(
      validateEnvoyBootstrap(config),
      `${CLUSTER}.connect_timout`,
      /unknown field.*did you mean connect_timeout/,
    );
  });

  it("a misspelt field inside a typed_config, found through its @type", () => {
    const config = gateway();
    at(config, HCM).stats_prefix = "x";
    expectIssue(
      validateEnvoyBootstrap(config),
      `${HCM}.stats_prefix`,
      /unknown field "stats_prefix" in .*HttpConnectionManager/,
    );
  });

  it("a @type that names no message", () => {
    const config = gateway();
    const router = at(config, `${HCM}.http_filters[2].typed_config`);
    router["@type"] = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Routr";
    expectIssue(validateEnvoyBootstrap(config), `${HCM}.http_filters[2].typed_config.@type`, /unknown @type/);
  });

  it("a real message as @type in the wrong place (an HTTP filter as a network filter)", () => {
    const config = gateway();
    const filter = at(config, "static_resources.listeners[0].filter_chains[0].filters[0]");
    filter.typed_config = { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" };
    expectIssue(
      validateEnvoyBootstrap(config),
      `${HCM}.@type`,
      /does not belong here.*envoy\.extensions\.filters\.network\./,
    );
  });

  it("a missing required string (cluster name, min_len 1)", () => {
    const config = gateway();
    delete at(config, CLUSTER).name;
    expectIssue(validateEnvoyBootstrap(config), `${CLUSTER}.name`, /required/);
  });

  it("a missing required message (a route's match)", () => {
    const config = gateway();
    delete at(config, `${ROUTES}[0]`).match;
    expectIssue(validateEnvoyBootstrap(config), `${ROUTES}[0].match`, /field match is required in Route/);
  });

  it("a missing required oneof (HttpConnectionManager without route_config or rds)", () => {
    const config = gateway();
    delete at(config, HCM).route_config;
    expectIssue(validateEnvoyBootstrap(config), HCM, /one of rds, route_config, scoped_routes.* is required/);
  });

  it("two members of one oneof", () => {
    const config = gateway();
    at(config, `${ROUTES}[0].match`).prefix = "/";
    expectIssue(validateEnvoyBootstrap(config), `${ROUTES}[0].match`, /only one of prefix, path/);
  });

  it("an enum value that does not exist", () => {
    const config = gateway();
    at(config, CLUSTER).lb_policy = "ROUND_ROBINN";
    expectIssue(validateEnvoyBootstrap(config), `${CLUSTER}.lb_policy`, /not a value of enum LbPolicy/);
  });

  it("a duration that is not one, and one the rules forbid", () => {
    const config = gateway();
    at(config, CLUSTER).connect_timeout = "2 seconds";
    at(config, "static_resources.clusters[1]").connect_timeout = "0s";
    const issues = validateEnvoyBootstrap(config);
    expectIssue(issues, `${CLUSTER}.connect_timeout`, /expected a duration/);
    expectIssue(issues, "static_resources.clusters[1].connect_timeout", /must be greater than 0s/);
  });

  it("a port beyond 65535 and a count given as words", () => {
    const config = gateway();
    at(config, "static_resources.listeners[0].address.socket_address").port_value = 70000;
    at(config, `${ROUTES}[0].route.retry_policy`).num_retries = "two";
    const issues = validateEnvoyBootstrap(config);
    expectIssue(
      issues,
      "static_resources.listeners[0].address.socket_address.port_value",
      /70000 must be <= 65535/,
    );
    expectIssue(issues, `${ROUTES}[0].route.retry_policy.num_retries`, /expected an integer/);
  });

  it("a misspelt field in a cluster's TLS context", () => {
    const config = gateway();
    const validation = at(
      config,
      `${CLUSTER}.transport_socket.typed_config.common_tls_context.validation_context`,
    );
    validation.trusted_cas = validation.trusted_ca;
    delete validation.trusted_ca;
    expectIssue(
      validateEnvoyBootstrap(config),
      `${CLUSTER}.transport_socket.typed_config.common_tls_context.validation_context.trusted_cas`,
      /unknown field "trusted_cas" in .*CertificateValidationContext \(did you mean trusted_ca\?\)/,
    );
  });

  it("a string where a mapping belongs, and a deprecated field", () => {
    const config = gateway();
    at(config, "static_resources").clusters = "liver_predict";
    const cluster = parse("name: c\nhttp2_protocol_options: {}\n") as Node;
    const issues = validateEnvoyBootstrap({ static_resources: { clusters: [cluster] } });
    expectIssue(validateEnvoyBootstrap(config), "static_resources.clusters", /expected a list/);
    expectIssue(issues, "static_resources.clusters[0].http2_protocol_options", /deprecated/);
  });

  it("a header name with a line break in a well_known_regex field", () => {
    const issues = validateEnvoyBootstrap({
      static_resources: {
        listeners: [listenerWith(jwtFilter({ name: "x-token\r\nx-evil: 1", value_prefix: "Bearer " }))],
      },
    });
    expect(issues).toContainEqual({
      path: expect.stringMatching(/from_headers\[0\]\.name$/) as string,
      message: expect.stringMatching(/not a valid HTTP header name/) as string,
    });
  });
});

/** A listener whose HTTP connection manager runs `filter` before the router. */
function listenerWith(filter: Node): Node {
  return {
    name: "l",
    address: { socket_address: { address: "0.0.0.0", port_value: 5000 } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type":
                "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: "x",
              route_config: { virtual_hosts: [{ name: "v", domains: ["*"], routes: [] }] },
              http_filters: [
                filter,
                {
                  name: "envoy.filters.http.router",
                  typed_config: {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                  },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

function jwtFilter(header: Node): Node {
  return {
    name: "envoy.filters.http.jwt_authn",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
      providers: {
        idp: {
          issuer: "https://idp.example.org",
          remote_jwks: {
            http_uri: { uri: "https://idp.example.org/jwks", cluster: "idp", timeout: "5s" },
            cache_duration: "300s",
          },
          from_headers: [header],
        },
      },
      rules: [{ match: { prefix: "/" }, requires: { provider_name: "idp" } }],
    },
  };
}

describe("the filters issue 10 adds (jwt_authn, oauth2) are checked too", () => {
  it("a valid jwt_authn config passes and a broken one fails", () => {
    const valid = listenerWith(jwtFilter({ name: "authorization", value_prefix: "Bearer " }));
    expect(validateEnvoyBootstrap({ static_resources: { listeners: [valid] } })).toEqual([]);
    const broken = jwtFilter({ name: "authorization" });
    const provider = at(broken, "typed_config.providers.idp");
    delete provider.remote_jwks;
    const issues = validateEnvoyBootstrap({ static_resources: { listeners: [listenerWith(broken)] } });
    expect(issues).toContainEqual({
      path: expect.stringMatching(/providers\.idp$/) as string,
      message: expect.stringMatching(/one of .*remote_jwks.* is required/) as string,
    });
  });

  it("a valid oauth2 config passes and one without credentials fails", () => {
    const oauth2 = (): Node => ({
      name: "envoy.filters.http.oauth2",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.oauth2.v3.OAuth2",
        config: {
          token_endpoint: { uri: "https://idp.example.org/token", cluster: "idp", timeout: "3s" },
          authorization_endpoint: "https://idp.example.org/authorize",
          redirect_uri: "https://liver.example.org/callback",
          redirect_path_matcher: { path: { exact: "/callback" } },
          signout_path: { path: { exact: "/signout" } },
          credentials: {
            client_id: "liver",
            token_secret: {
              name: "token",
              sds_config: { path_config_source: { path: "/etc/envoy/token.yaml" } },
            },
            hmac_secret: {
              name: "hmac",
              sds_config: { path_config_source: { path: "/etc/envoy/hmac.yaml" } },
            },
          },
        },
      },
    });
    const valid = oauth2();
    expect(validateEnvoyBootstrap({ static_resources: { listeners: [listenerWith(valid)] } })).toEqual([]);
    const broken = oauth2();
    delete at(broken, "typed_config.config").credentials;
    expect(
      validateEnvoyBootstrap({ static_resources: { listeners: [listenerWith(broken)] } }),
    ).toContainEqual({
      path: expect.stringMatching(/typed_config\.config\.credentials$/) as string,
      message: expect.stringMatching(/required/) as string,
    });
  });
});
