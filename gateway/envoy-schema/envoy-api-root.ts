import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import protobuf from "protobufjs";

const require = createRequire(import.meta.url);

/** Where @grpc/grpc-js-xds keeps the Envoy, xDS, googleapis and protoc-gen-validate .proto trees. */
const XDS_DEPS = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");

/** Import roots, searched in order, like protoc's -I list. protobufjs ships descriptor.proto. */
const IMPORT_ROOTS = [
  join(XDS_DEPS, "envoy-api"),
  join(XDS_DEPS, "xds"),
  join(XDS_DEPS, "googleapis"),
  join(XDS_DEPS, "protoc-gen-validate"),
  dirname(require.resolve("protobufjs/package.json")),
];

/** Well-known types protobufjs defines itself (it ignores these imports). */
const BUILT_IN =
  /^google\/protobuf\/(any|duration|struct|wrappers|empty|timestamp|field_mask|api|source_context|type)\.proto$/;

function findImport(target: string): string | undefined {
  return IMPORT_ROOTS.map((root) => join(root, target)).find((path) => existsSync(path));
}

function protoFilesUnder(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) protoFilesUnder(path, out);
    else if (entry.name.endsWith(".proto")) out.push(path);
  }
  return out;
}

/**
 * True when the file and everything it imports is shipped. The package trims Envoy's tree to
 * what grpc-js needs, so a few files import v2 or alpha protos that are absent; those files
 * are skipped instead of failing the whole load.
 */
function importsComplete(target: string, known: Map<string, boolean>, visiting: Set<string>): boolean {
  if (BUILT_IN.test(target) || visiting.has(target)) return true;
  const cached = known.get(target);
  if (cached !== undefined) return cached;
  const path = findImport(target);
  if (path === undefined) {
    known.set(target, false);
    return false;
  }
  visiting.add(target);
  const imports = [...readFileSync(path, "utf8").matchAll(/^import\s+(?:public\s+|weak\s+)?"([^"]+)";/gm)];
  const complete = imports.every((m) => m[1] !== undefined && importsComplete(m[1], known, visiting));
  visiting.delete(target);
  known.set(target, complete);
  return complete;
}

let cached: protobuf.Root | undefined;

/**
 * Every v3 message of Envoy's API (bootstrap, listeners, clusters, routes and all extensions,
 * including the jwt_authn and oauth2 HTTP filters) as protobufjs reflection, with the
 * protoc-gen-validate options kept, so configuration can be checked against Envoy's own schema
 * without an Envoy binary. Loaded once per process (about 0.3 s).
 */
export function envoyApiRoot(): protobuf.Root {
  if (cached !== undefined) return cached;
  const envoyApi = join(XDS_DEPS, "envoy-api");
  const known = new Map<string, boolean>();
  const files = protoFilesUnder(join(envoyApi, "envoy"))
    .map((path) => relative(envoyApi, path))
    .filter((file) => /\/v3\//.test(file) && importsComplete(file, known, new Set()));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => findImport(target) ?? target;
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  cached = root;
  return root;
}
