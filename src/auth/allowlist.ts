/**
 * Which hosts an OAuth client may send the browser back to (redirect URIs)
 * and, for Client ID Metadata Documents, which hosts may name a client.
 *
 * A phishing client can call itself "ChatGPT"; what it cannot fake is where
 * the code goes. So only the real assistants' hosts are accepted, plus
 * loopback (native and test clients on this machine), plus the exact host
 * names the operator adds in `auth.oauth.allowedRedirectHosts`. Hosts are
 * compared whole, so `chatgpt.com.evil.example` is not `chatgpt.com`.
 */
export const DEFAULT_REDIRECT_HOSTS = ['chatgpt.com', 'claude.ai', 'claude.com'] as const;

/** Loopback as `URL.hostname` spells it. */
export const LOOPBACK_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

export const MAX_REDIRECT_URI_LENGTH = 1_000;

export class RedirectHostAllowlist {
  private readonly hosts: Set<string>;

  constructor(extraHosts: readonly string[] = []) {
    this.hosts = new Set([...DEFAULT_REDIRECT_HOSTS, ...extraHosts.map((h) => h.toLowerCase())]);
  }

  get names(): string[] {
    return [...this.hosts];
  }

  /** An https host on the list (loopback is handled by the callers: its rules differ). */
  hasHttpsHost(url: URL): boolean {
    return url.protocol === 'https:' && !url.port && this.hosts.has(url.hostname);
  }

  /** Why this redirect URI is refused, or null when it is acceptable. */
  redirectUriProblem(uri: string): string | null {
    if (uri.length > MAX_REDIRECT_URI_LENGTH) return `redirect_uri longer than ${MAX_REDIRECT_URI_LENGTH} characters`;
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return 'redirect_uri is not a valid URL';
    }
    if (url.hash || url.username || url.password) return 'redirect_uri must not carry a fragment or credentials';
    if (LOOPBACK_HOSTNAMES.has(url.hostname)) {
      // Any port (RFC 8252 §7.3): native clients pick one at run time.
      return url.protocol === 'http:' || url.protocol === 'https:' ? null : 'redirect_uri must be http(s)';
    }
    if (this.hasHttpsHost(url)) return null;
    return `redirect_uri host "${url.host}" is not allowed: accepted are ${this.names.join(', ')}, loopback, and the hosts listed in auth.oauth.allowedRedirectHosts (https only)`;
  }
}
