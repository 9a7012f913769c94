/**
 * Runs `stop` once on the first SIGTERM or SIGINT; a second signal exits at once, so an
 * operator pressing Ctrl-C twice is never stuck behind a grace period.
 */
export function onTerminateSignal(
  stop: (signal: NodeJS.Signals) => Promise<void>,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      exit(130);
      return;
    }
    stopping = true;
    stop(signal).then(
      () => exit(0),
      (error: unknown) => {
        console.error(`shutdown failed: ${String(error)}`);
        exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}
