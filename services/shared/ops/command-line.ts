/**
 * The services take their settings from the environment (as Kubernetes passes them), so
 * the command line only answers --help and refuses anything else with a pointer to it.
 * Returns true when the process should go on starting.
 */
export function acceptOnlyHelp(
  argv: readonly string[],
  help: string,
  out: (text: string) => void = (text) => process.stdout.write(text),
  fail: (text: string) => void = (text) => process.stderr.write(text),
): boolean {
  if (argv.length === 0) return true;
  if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h")) {
    out(`${help.trimEnd()}\n`);
    process.exitCode = 0;
    return false;
  }
  fail(`unknown argument ${argv[0] ?? ""}: settings come from the environment; see --help\n`);
  process.exitCode = 2;
  return false;
}
