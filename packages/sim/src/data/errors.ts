/** Machine-readable reason a dataset could not be read. */
export type DatasetErrorCode =
  | 'NOT_FOUND' // a file or directory is missing
  | 'BAD_GZIP' // gzip magic present but the stream does not decompress
  | 'BAD_MAGIC' // not an IDX file (first two bytes must be zero)
  | 'UNSUPPORTED_TYPE' // IDX element type other than uint8
  | 'TRUNCATED' // fewer bytes than the header promises
  | 'TRAILING_DATA' // more bytes than the header promises
  | 'SHAPE' // dimensions are not what the caller needs
  | 'COUNT_MISMATCH' // images and labels disagree on the number of examples
  | 'CSV_SYNTAX' // a CSV line is malformed (field count, number, range)
  | 'EMPTY'; // no examples

/** Base class of every error thrown while reading data; `code` says why, `file` where. */
export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  readonly file: string | undefined;
  constructor(code: DatasetErrorCode, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DatasetError';
    this.code = code;
    this.file = options.file;
  }
}

/** A file is not a valid IDX file (or an images/labels pair does not match). */
export class IdxFormatError extends DatasetError {
  constructor(code: DatasetErrorCode, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'IdxFormatError';
  }
}

/** A CSV data file is malformed; `line` is 1-based. */
export class CsvFormatError extends DatasetError {
  readonly line: number | undefined;
  constructor(code: DatasetErrorCode, message: string, options: { file?: string; line?: number; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'CsvFormatError';
    this.line = options.line;
  }
}

/** No dataset files where they were looked for. */
export class DatasetNotFoundError extends DatasetError {
  /** Every place that was looked at, with the reason it was rejected. */
  readonly searched: ReadonlyArray<{ dir: string; reason: string }>;
  constructor(message: string, searched: ReadonlyArray<{ dir: string; reason: string }> = [], options: { file?: string } = {}) {
    super('NOT_FOUND', message, options);
    this.name = 'DatasetNotFoundError';
    this.searched = searched;
  }
}
