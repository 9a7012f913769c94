/**
 * A training data file that cannot be used as it is: not found, empty, binary, the wrong
 * delimiter, or missing required columns. The message says what was found and what to
 * do, because the person who reads it is usually an operator pointing DATA_PATH or
 * TRAINING_CSV at the wrong file. Bad individual rows are not errors: the loader drops and
 * counts them in its LoadReport.
 */
export class DatasetFormatError extends Error {
  /** The file the problem is about, as given by the caller. */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatasetFormatError";
    this.path = path;
  }
}
