// Error codes shared by both binaries: one table, each code with its HTTP status and whether it is access-logged.
export const ErrorCodes = {
  TESSERA_ERR_CONFIG_INVALID: { status: 0, log: false, what: 'a mesh config or bootstrap failed validation' },
  TESSERA_ERR_USAGE: { status: 0, log: false, what: 'bad command-line usage' },
  TESSERA_ERR_XDS_NACK: { status: 0, log: false, what: 'an xDS resource was rejected' },
  TESSERA_ERR_XDS_UNAUTHENTICATED: { status: 0, log: true, what: 'an xDS stream without a valid bootstrap token was refused' },
  TESSERA_ERR_XDS_PERMISSION_DENIED: { status: 0, log: true, what: 'an xDS stream asked for a node other than the one its token names' },
  TESSERA_ERR_CA_UNAUTHENTICATED: { status: 0, log: true, what: 'a certificate request without a valid bootstrap token was refused' },
  TESSERA_ERR_CA_REJECTED: { status: 0, log: true, what: 'the CA refused a certificate request (bad CSR, other identity, lifetime)' },
  TESSERA_ERR_IDENTITY_UNAVAILABLE: { status: 0, log: true, what: 'the sidecar could not get its workload certificate (retried with backoff)' },
  TESSERA_ERR_HTTP_BAD_REQUEST: { status: 400, log: true, what: 'malformed or ambiguous HTTP/1.1 request' },
  TESSERA_ERR_HTTP_URI_TOO_LONG: { status: 414, log: true, what: 'request target longer than the limit' },
  TESSERA_ERR_HTTP_HEADERS_TOO_LARGE: { status: 431, log: true, what: 'request headers larger than the limit' },
  TESSERA_ERR_HTTP_REQUEST_TIMEOUT: { status: 408, log: true, what: 'request headers not received in time' },
  TESSERA_ERR_HTTP_NOT_IMPLEMENTED: { status: 501, log: true, what: 'transfer coding or method not supported' },
  TESSERA_ERR_HTTP_VERSION: { status: 505, log: true, what: 'HTTP version not supported' },
  TESSERA_ERR_HTTP_UPGRADE_REQUIRED: { status: 426, log: true, what: 'HTTP/1.0 request while accept_http_10 is off' },
  TESSERA_ERR_ROUTE_NOT_FOUND: { status: 404, log: true, what: 'no route matched the request' },
  TESSERA_ERR_CLUSTER_NOT_FOUND: { status: 503, log: true, what: 'the route names a cluster the proxy does not have' },
  TESSERA_ERR_NO_HEALTHY_UPSTREAM: { status: 503, log: true, what: 'the cluster has no healthy endpoint' },
  TESSERA_ERR_UPSTREAM_CONNECT: { status: 503, log: true, what: 'connecting to the upstream failed' },
  TESSERA_ERR_UPSTREAM_RESET: { status: 503, log: true, what: 'the upstream closed or reset the connection before responding' },
  TESSERA_ERR_UPSTREAM_PROTOCOL: { status: 502, log: true, what: 'the upstream sent a malformed response' },
  TESSERA_ERR_UPSTREAM_TIMEOUT: { status: 504, log: true, what: 'the route timeout expired before the upstream answered' },
  TESSERA_ERR_UPSTREAM_OVERFLOW: { status: 503, log: true, what: 'a circuit breaker (connections, pending requests, requests) refused the request' },
  TESSERA_ERR_HTTP2_PROTOCOL: { status: 0, log: true, what: 'HTTP/2 abuse (rapid reset, frame flood, unread queue): the connection is closed with GOAWAY' },
  TESSERA_ERR_FAULT_INJECTED: { status: 0, log: true, what: 'the fault filter aborted the request (status from its config)' },
  TESSERA_ERR_JWT_MISSING: { status: 401, log: true, what: 'a JWT is required and the request carries none' },
  TESSERA_ERR_JWT_INVALID: { status: 401, log: true, what: 'a JWT failed verification (form, algorithm, signature, time, issuer or audience)' },
  TESSERA_ERR_JWKS_UNAVAILABLE: { status: 401, log: true, what: 'the key set could not be fetched and no stale keys exist' },
  TESSERA_ERR_API_KEY_MISSING: { status: 401, log: true, what: 'an API key is required and the request carries none' },
  TESSERA_ERR_API_KEY_INVALID: { status: 401, log: true, what: 'the API key matches no configured key (or was sent more than once)' },
  TESSERA_ERR_API_KEY_FORBIDDEN: { status: 403, log: true, what: "the API key's consumer is not allowed on this route" },
  TESSERA_ERR_RBAC_DENIED: { status: 403, log: true, what: 'an RBAC policy denied the request' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** Base error for programmer errors and invalid start-up input; data-path failures are values, not throws. */
export class TesseraError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'TesseraError';
    this.code = code;
  }
}

/** A config file or bootstrap that failed validation; `errors` each name file, line and field. */
export class ConfigError extends TesseraError {
  readonly errors: readonly string[];
  constructor(errors: readonly string[]) {
    super('TESSERA_ERR_CONFIG_INVALID', errors.join('\n'));
    this.name = 'ConfigError';
    this.errors = errors;
  }
}

/** Bad CLI usage; the CLI exits 2 with the message. */
export class UsageError extends TesseraError {
  constructor(message: string) {
    super('TESSERA_ERR_USAGE', message);
    this.name = 'UsageError';
  }
}
