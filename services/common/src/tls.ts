import { credentials, ServerCredentials, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";

/**
 * Mutual TLS between mesh processes: one CA signs a certificate per process;
 * servers require a client certificate from that CA and clients verify the
 * server's. Files are PEM, read once at start-up.
 */
export interface MeshTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** Where the files came from (for log lines). */
  caPath: string;
}

/** Credentials for a channel to another mesh process: this process's certificate, the mesh CA. */
export function clientCredentials(tls: MeshTls | undefined): ChannelCredentials {
  return tls ? credentials.createSsl(tls.ca, tls.key, tls.cert) : credentials.createInsecure();
}

/**
 * The name every mesh certificate carries (besides its own): peers are found by
 * address (engine pods by DNS/SRV, so by IP), and a client checks that the
 * server's certificate, signed by the mesh CA, names this.
 */
export const MESH_TLS_NAME = "tda-mesh";

/** Channel options for a mesh-internal channel: with TLS, the server's certificate must name MESH_TLS_NAME. */
export function meshChannelOptions(tls: MeshTls | undefined, options: ChannelOptions): ChannelOptions {
  return tls ? { ...options, "grpc.ssl_target_name_override": MESH_TLS_NAME, "grpc.default_authority": MESH_TLS_NAME } : options;
}

/** Credentials for a mesh-internal port: callers must present a certificate signed by the mesh CA. */
export function serverCredentials(tls: MeshTls | undefined): ServerCredentials {
  return tls ? ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true) : ServerCredentials.createInsecure();
}

export const TLS_OFF_WARNING =
  "TLS IS OFF: mesh hops are plaintext and any process that reaches an internal port is trusted as a peer. Set TDA_TLS_CA, TDA_TLS_CERT and TDA_TLS_KEY on every mesh process (deploy/local/make-certs.sh makes them)";

/** Says at start-up how this process's mesh hops are secured (loudly when they are not). */
export function logTransportSecurity(tls: MeshTls | undefined, log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void }): void {
  if (tls) log.info({ tls: "mutual", ca: tls.caPath }, "mutual TLS on the mesh's internal hops");
  else log.warn({ tls: "off" }, TLS_OFF_WARNING);
}
