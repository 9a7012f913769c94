import { parse } from "yaml";
import { envoyApiRoot } from "./envoy-api-root.js";
import { validateProtoJson, type SchemaIssue } from "./proto-json-validator.js";

const HTTP_FILTERS = ["envoy.extensions.filters.http."];
const PER_ROUTE = ["envoy.extensions.filters.http.", "envoy.config.route.v3.FilterConfig"];

/**
 * Extension categories: which @type a typed_config accepts where. Envoy finds an extension's
 * factory by its type URL within the category of the field holding it, so a valid message in
 * the wrong place (an HTTP filter as a network filter) fails at start-up; this table makes it
 * fail here too. Fields not listed accept any message of the API.
 */
export const ENVOY_EXTENSION_CATEGORIES: ReadonlyMap<string, readonly string[]> = new Map([
  ["envoy.config.listener.v3.Filter.typed_config", ["envoy.extensions.filters.network."]],
  ["envoy.config.listener.v3.ListenerFilter.typed_config", ["envoy.extensions.filters.listener."]],
  ["envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter.typed_config", HTTP_FILTERS],
  ["envoy.config.accesslog.v3.AccessLog.typed_config", ["envoy.extensions.access_loggers."]],
  ["envoy.config.core.v3.TransportSocket.typed_config", ["envoy.extensions.transport_sockets."]],
  ["envoy.config.cluster.v3.Cluster.typed_extension_protocol_options", ["envoy.extensions.upstreams."]],
  ["envoy.config.route.v3.RetryPolicy.RetryHostPredicate.typed_config", ["envoy.extensions.retry.host."]],
  ["envoy.config.route.v3.RetryPolicy.RetryPriority.typed_config", ["envoy.extensions.retry.priority."]],
  ["envoy.config.route.v3.VirtualHost.typed_per_filter_config", PER_ROUTE],
  ["envoy.config.route.v3.Route.typed_per_filter_config", PER_ROUTE],
  ["envoy.config.route.v3.WeightedCluster.ClusterWeight.typed_per_filter_config", PER_ROUTE],
]);

/**
 * Checks an Envoy bootstrap (YAML text) against Envoy's own v3 API schema, as Envoy would on
 * start-up with unknown fields rejected. Returns every violation with its path; empty when valid.
 */
export function validateEnvoyBootstrapYaml(yamlText: string): SchemaIssue[] {
  return validateEnvoyBootstrap(parse(yamlText));
}

/** As validateEnvoyBootstrapYaml, for an already parsed configuration. */
export function validateEnvoyBootstrap(config: unknown): SchemaIssue[] {
  return validateProtoJson(envoyApiRoot(), "envoy.config.bootstrap.v3.Bootstrap", config, {
    anyTypePrefixes: ENVOY_EXTENSION_CATEGORIES,
  });
}
