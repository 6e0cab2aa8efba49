/** A CLI failure with an exit code and one clear sentence (no stack trace for expected failures). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
