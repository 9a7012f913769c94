import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { acceptOnlyHelp } from "./command-line.js";

const run = promisify(execFile);

describe("acceptOnlyHelp", () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it("goes on with no arguments, prints help for --help and -h, refuses anything else", () => {
    const out: string[] = [];
    const err: string[] = [];
    const call = (argv: string[]): boolean =>
      acceptOnlyHelp(
        argv,
        "HELP TEXT",
        (t) => out.push(t),
        (t) => err.push(t),
      );
    expect(call([])).toBe(true);
    expect(call(["--help"])).toBe(false);
    expect(call(["-h"])).toBe(false);
    expect(out).toEqual(["HELP TEXT\n", "HELP TEXT\n"]);
    expect(process.exitCode).toBe(0);
    expect(call(["--port", "1"])).toBe(false);
    expect(err).toEqual(["unknown argument --port: settings come from the environment; see --help\n"]);
    expect(process.exitCode).toBe(2);
  });

  it.each([
    ["services/retrain/main.ts", "FEEDBACK_SIGNING_KEY"],
    ["services/predict/main.ts", "FEEDBACK_SIGNING_KEY"],
    ["gateway/bridge/main.ts", "PREDICT_ADDRS"],
  ])("%s --help lists its settings and exits 0 without starting", async (entry, setting) => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", entry, "--help"], {
      timeout: 30_000,
    });
    expect(stdout).toMatch(/^Usage: /);
    expect(stdout).toContain(setting);
  });
});
