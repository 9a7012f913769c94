/**
 * The dependency set installs on the Node version the README promises without EBADENGINE
 * warnings: every package in package-lock.json whose `engines.node` is declared accepts the
 * oldest Node that package.json's own `engines.node` admits (and so every later one npm
 * would check against the same range).
 */
import { readFileSync } from "node:fs";
import semver from "semver";
import { describe, expect, it } from "vitest";

interface Manifest {
  readonly engines?: { readonly node?: string };
}
interface Lockfile {
  readonly packages: Readonly<Record<string, Manifest & { readonly version?: string }>>;
}

function read(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../${name}`, import.meta.url), "utf8"));
}

describe("Node engines of the dependency set", () => {
  const promised = (read("package.json") as Manifest).engines?.node ?? "";
  const oldest = semver.minVersion(promised);

  it("package.json states the Node version the README promises", () => {
    expect(oldest?.major).toBe(20);
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    expect(readme).toContain(
      `Node.js ${oldest?.major ?? "?"} (≥ ${oldest?.major ?? "?"}.${oldest?.minor ?? "?"})`,
    );
  });

  it("no locked package refuses that Node version (npm ci would warn EBADENGINE)", () => {
    const refusing = Object.entries((read("package-lock.json") as Lockfile).packages)
      .filter(([name, pkg]) => name !== "" && pkg.engines?.node !== undefined)
      .filter(([, pkg]) => oldest === null || !semver.satisfies(oldest, pkg.engines?.node ?? "*"))
      .map(([name, pkg]) => `${name}@${pkg.version ?? "?"} wants node ${pkg.engines?.node ?? "?"}`);
    expect(refusing).toEqual([]);
  });
});
