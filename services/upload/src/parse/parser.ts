/** A streaming parser: fed the input in arbitrary chunks, writing into a CanonicalSink. */
export interface Parser {
  push(chunk: Uint8Array): void;
  /** End of input: completes or rejects the last record. */
  finish(): void;
}
