/**
 * Typed errors of the tensor readers. Every error names the file (and the archive member or
 * tensor key when there is one) so that the CLI, the extension and the Problems panel can show
 * "<file>[:<member>]: <problem>" without a stack trace.
 */

export type TensorErrorKind =
  | 'io' // the file could not be opened or read
  | 'bad-magic' // not the format its extension claims
  | 'bad-header' // malformed header (npy dict, zip directory, safetensors JSON)
  | 'unsupported-dtype' // object/pickle, structured, complex, strings, unknown codes
  | 'unsupported-format' // e.g. an npy version we do not know, an unsupported zip method
  | 'truncated' // fewer bytes than the header promises
  | 'size-mismatch' // element count vs shape vs byte size disagree
  | 'too-large' // a declared size above the configured limits (checked before allocating)
  | 'corrupt' // checksum or decompression failure
  | 'missing-member'; // an npz member / safetensors key that does not exist

export class TensorReadError extends Error {
  readonly kind: TensorErrorKind;
  /** The file as the user named it (path or URI string). */
  readonly file: string;
  /** npz member name or safetensors tensor key, when the problem is inside one. */
  readonly member: string | undefined;
  /** The problem alone, without the location prefix. */
  readonly problem: string;

  constructor(kind: TensorErrorKind, file: string, problem: string, member?: string) {
    super(`${member === undefined ? file : `${file}:${member}`}: ${problem}`);
    this.name = 'TensorReadError';
    this.kind = kind;
    this.file = file;
    this.member = member;
    this.problem = problem;
  }

  /** The same error, located inside an archive member. */
  withMember(file: string, member: string): TensorReadError {
    return new TensorReadError(this.kind, file, this.problem, member);
  }
}

export function isTensorReadError(e: unknown): e is TensorReadError {
  return e instanceof TensorReadError;
}
