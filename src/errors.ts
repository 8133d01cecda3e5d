/** Error classes shared by the programs; each carries a stable `code` callers can branch on. */

/** Bad command-line flags or configuration: the CLI prints the message and exits 1. */
export class ConfigError extends Error {
  readonly code = 'SABRE_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A data file (RDB/AOF) that cannot be loaded at start-up: the server exits 1 before serving. */
export class DataLoadError extends Error {
  readonly code = 'SABRE_DATA_LOAD';
  constructor(message: string) {
    super(message);
    this.name = 'DataLoadError';
  }
}
