/**
 * Endpoint checks for OpenAI-compatible judges: where requests go, whether that place is safe to send
 * data and a key to, and the typed errors the host turns into prompts (set a key, fix the URL).
 */

/** Result of {@link checkEndpoint}. */
export interface EndpointCheck {
  /** The parsed base URL as given (trailing slashes removed). */
  readonly baseUrl: string;
  /** The full chat-completions URL requests are POSTed to (see {@link chatCompletionsUrl}). */
  readonly chatCompletionsUrl: string;
  /** Host is localhost, 127.0.0.0/8 or ::1: data never leaves the machine. */
  readonly loopback: boolean;
  readonly https: boolean;
  /** Human-readable warnings; empty when the endpoint is loopback or https. */
  readonly warnings: readonly string[];
}

/** The base URL is not a usable http(s) URL. */
export class InvalidEndpointError extends Error {
  constructor(readonly url: string, reason: string) {
    super(`Judge endpoint ${JSON.stringify(url)} is not usable: ${reason}`);
    this.name = 'InvalidEndpointError';
  }
}

/**
 * A non-loopback endpoint was configured without an API key. The host catches this type and asks the user
 * to store a key (SecretStorage) instead of sending unauthenticated requests to a remote server.
 */
export class MissingApiKeyError extends Error {
  constructor(readonly baseUrl: string) {
    super(`No API key is set for the judge endpoint ${baseUrl}. Remote endpoints need a key; local ones (localhost, 127.0.0.1, ::1) do not.`);
    this.name = 'MissingApiKeyError';
  }
}

/** True for localhost, any 127.0.0.0/8 address and ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  // IPv4-mapped loopback as Node's URL parser normalises it.
  return /^::ffff:(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|7f[0-9a-f]{2}:[0-9a-f]{1,4})$/.test(h);
}

/**
 * Resolves the URL chat-completion requests are POSTed to, from a base URL as users type it.
 *
 * Local servers differ in what "base URL" means, so the rule is:
 * - ends with `/chat/completions`: used as is;
 * - path is empty or `/` (e.g. `http://127.0.0.1:8080` for llama.cpp's server, `http://localhost:11434` for
 *   Ollama, `http://localhost:8000` for vLLM): `/v1/chat/completions` is appended, the path all three serve;
 * - otherwise (`.../v1` as OpenAI, Ollama and vLLM document it, or a proxy path such as `/api/openai/v1`):
 *   `/chat/completions` is appended.
 */
export function chatCompletionsUrl(baseUrl: string): string {
  const u = parseHttpUrl(baseUrl);
  const path = u.pathname.replace(/\/+$/, '');
  if (/\/chat\/completions$/.test(path)) u.pathname = path;
  else if (path === '') u.pathname = '/v1/chat/completions';
  else u.pathname = `${path}/chat/completions`;
  return u.toString();
}

/**
 * Checks a judge endpoint before use. Throws {@link InvalidEndpointError} for a URL that is not http(s);
 * returns a warning when the endpoint is neither loopback nor https (prompts, responses and the key would
 * cross the network in clear text).
 */
export function checkEndpoint(url: string): EndpointCheck {
  const u = parseHttpUrl(url);
  const loopback = isLoopbackHost(u.hostname);
  const https = u.protocol === 'https:';
  const warnings: string[] = [];
  if (!loopback && !https) {
    warnings.push(`The judge endpoint ${u.origin} is neither local (loopback) nor https: prompts, responses and the API key would be sent unencrypted over the network.`);
  }
  return { baseUrl: u.toString().replace(/\/+$/, ''), chatCompletionsUrl: chatCompletionsUrl(url), loopback, https, warnings };
}

function parseHttpUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new InvalidEndpointError(url, 'not a valid URL (expected e.g. http://127.0.0.1:8080/v1 or https://api.example.com/v1)');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidEndpointError(url, `protocol ${u.protocol} is not http: or https:`);
  if (u.username || u.password) throw new InvalidEndpointError(url, 'credentials in the URL are not allowed; store the API key as a secret instead');
  u.search = '';
  u.hash = '';
  return u;
}

/** Replaces every occurrence of `secret` (and of its `Bearer` header form) in `text` by `***`. */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('***');
}
