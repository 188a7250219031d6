/**
 * Redaction for logs. Stream URLs routinely carry secrets (a password in the authority, an
 * SRT passphrase, a signed HLS token, an RTMP stream key as the last path segment) and API
 * URLs may carry `?token=` (EventSource cannot send headers). The API still returns stream
 * URLs as configured to authorised clients: only what is logged is redacted.
 */

const MASK = "***";

/** Query parameters whose values are secrets, compared in lower case. */
const SECRET_PARAMS = new Set([
  "token",
  "access_token",
  "auth",
  "authorization",
  "key",
  "api_key",
  "apikey",
  "passphrase",
  "password",
  "pass",
  "pwd",
  "secret",
  "sig",
  "signature",
  "credential",
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token",
]);

function redactQuery(query: string): string {
  return query.replace(/([?&])([^=&#]+)=([^&#]*)/g, (whole, sep: string, name: string) => {
    let decoded = name;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      // A malformed escape is not a secret name we know; keep the raw name.
    }
    return SECRET_PARAMS.has(decoded.toLowerCase()) ? `${sep}${name}=${MASK}` : whole;
  });
}

/**
 * Hides credentials in a stream or request URL: the userinfo password, secret query values and
 * an RTMP stream key. Works on strings that are not valid URLs too (paths, request URLs), by
 * textual rules rather than a parser that might throw or normalise.
 */
export function redactUrl(url: string): string {
  const hashAt = url.indexOf("#");
  const fragment = hashAt >= 0 ? url.slice(hashAt) : "";
  let rest = hashAt >= 0 ? url.slice(0, hashAt) : url;
  const queryAt = rest.indexOf("?");
  const query = queryAt >= 0 ? redactQuery(rest.slice(queryAt)) : "";
  rest = queryAt >= 0 ? rest.slice(0, queryAt) : rest;

  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/]*)(.*)$/i.exec(rest);
  if (m) {
    const scheme = m[1]!;
    let authority = m[2]!;
    let path = m[3]!;
    const at = authority.lastIndexOf("@");
    // `udp://@239.1.1.1:5000` (an empty userinfo: listen on a multicast group) hides nothing.
    if (at > 0) {
      const userinfo = authority.slice(0, at);
      const colon = userinfo.indexOf(":");
      authority = `${colon >= 0 ? userinfo.slice(0, colon) + ":" + MASK : MASK}@${authority.slice(at + 1)}`;
    }
    // rtmp://host/app/STREAM_KEY: the key publishes to the channel, so it is a credential.
    if (/^rtmps?:\/\//i.test(scheme)) {
      const segments = path.split("/");
      if (segments.length >= 3 && segments[segments.length - 1] !== "") {
        segments[segments.length - 1] = MASK;
        path = segments.join("/");
      }
    }
    rest = scheme + authority + path;
  }
  return rest + query + fragment;
}
