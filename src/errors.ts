/** Error classes shared by the programs; each carries a stable `code` callers can branch on. */

/** The base of every error Sabre throws on purpose: `code` is stable across releases (SABRE_*). */
export class SabreError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad command-line flags or configuration: the CLI prints the message and exits 1. */
export class ConfigError extends SabreError {
  constructor(message: string) {
    super('SABRE_CONFIG', message);
  }
}

/** A data file (RDB/AOF) that cannot be loaded at start-up: the server exits 1 before serving. */
export class DataLoadError extends SabreError {
  constructor(message: string) {
    super('SABRE_DATA_LOAD', message);
  }
}
