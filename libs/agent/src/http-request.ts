import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { EgressPolicy } from './egress.js';
import { ToolError } from './tool-error.js';

export interface GuardedRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  /** Bytes of body read at most; past it the socket is closed and TOOL_RESULT_TOO_LARGE thrown. */
  maxBytes: number;
  /** Strings no error message may contain (secret header values). */
  secrets: readonly string[];
  /** Who is asking, for messages. */
  tool: string;
}

export interface GuardedResponse {
  status: number;
  contentType: string;
  body: Buffer;
  url: URL;
}

/** Redirects followed at most; each is checked against the egress rules again. */
export const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * HTTP(S) through the egress rules. Node's own http/https rather than fetch: the socket's
 * `lookup` is where resolved addresses are checked (undici would need adding for that), and
 * destroying the request is how a body past the cap or an abort closes the connection at once.
 * Agents keep connections alive; a kept socket was checked when it connected.
 */
export class GuardedHttp {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  constructor(private readonly egress: EgressPolicy) {
    this.http = new HttpAgent({ keepAlive: true, lookup: egress.lookup });
    this.https = new HttpsAgent({ keepAlive: true, lookup: egress.lookup });
  }

  /**
   * Follows up to MAX_REDIRECTS redirects by hand, re-checking each Location. 303 (and 301/302
   * of a POST, as browsers do) become a GET without a body; a redirect to another origin drops the
   * declared headers, so a secret token never follows a redirect off its host.
   */
  async request(req: GuardedRequest): Promise<GuardedResponse> {
    let { method, url, body, headers } = req;
    for (let hop = 0; ; hop++) {
      this.egress.checkUrl(url);
      const response = await this.once({ ...req, method, url, body, headers });
      const location = response.headers.location;
      if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) {
        return { ...(await readCapped(response, req)), url };
      }
      response.destroy();
      if (hop >= MAX_REDIRECTS) {
        throw new ToolError('TOOL_FAILED', `${req.tool}: more than ${MAX_REDIRECTS} redirects`);
      }
      const next = new URL(location, url);
      const status = response.statusCode ?? 0;
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      if (next.origin !== url.origin) headers = {};
      url = next;
    }
  }

  /** Closes kept-alive sockets (shutdown, tests). */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  private once(req: GuardedRequest): Promise<IncomingMessage> {
    const { url } = req;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      if (req.signal.aborted) return reject(req.signal.reason as Error);
      const headers: Record<string, string> = {
        accept: 'application/json, text/*;q=0.9',
        ...req.headers,
      };
      if (req.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        headers['content-length'] = String(Buffer.byteLength(req.body));
      }
      const request = send(url, {
        method: req.method,
        headers,
        agent: url.protocol === 'https:' ? this.https : this.http,
        lookup: this.egress.lookup,
      });
      const onAbort = () => {
        request.destroy(req.signal.reason as Error);
      };
      req.signal.addEventListener('abort', onAbort, { once: true });
      request.once('close', () => req.signal.removeEventListener('abort', onAbort));
      request.once('response', (response) => {
        // The body reader takes over the abort from here.
        resolve(response);
      });
      request.once('error', (error) => {
        if (req.signal.aborted) return reject(req.signal.reason as Error);
        if (error instanceof ToolError) return reject(error);
        reject(
          new ToolError(
            'TOOL_FAILED',
            scrub(`${req.tool}: could not reach ${describe(url)}: ${reasonOf(error)}`, req.secrets),
            true,
          ),
        );
      });
      request.end(req.body);
    });
  }
}

/** Reads the body up to `maxBytes`; one byte more closes the socket. */
function readCapped(
  response: IncomingMessage,
  req: GuardedRequest,
): Promise<Omit<GuardedResponse, 'url'>> {
  const tooLarge = () =>
    new ToolError(
      'TOOL_RESULT_TOO_LARGE',
      `${req.tool}: the response is larger than the limit of ${req.maxBytes} bytes`,
    );
  return new Promise((resolve, reject) => {
    const status = response.statusCode ?? 0;
    const contentType = String(response.headers['content-type'] ?? '');
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > req.maxBytes && status >= 200 && status < 300) {
      response.destroy();
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onAbort = () => response.destroy(req.signal.reason as Error);
    if (req.signal.aborted) return reject(req.signal.reason as Error);
    req.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => req.signal.removeEventListener('abort', onAbort);
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > req.maxBytes) {
        done();
        response.destroy();
        return reject(tooLarge());
      }
      chunks.push(chunk);
    });
    response.once('end', () => {
      done();
      resolve({ status, contentType, body: Buffer.concat(chunks) });
    });
    // A destroyed response does not always emit 'error'; a close before the end is a failure.
    response.once('close', () => {
      done();
      if (response.complete) return;
      if (req.signal.aborted) return reject(req.signal.reason as Error);
      reject(new ToolError('TOOL_FAILED', `${req.tool}: the response broke off`, true));
    });
    response.once('error', (error) => {
      done();
      if (req.signal.aborted) return reject(req.signal.reason as Error);
      reject(
        new ToolError(
          'TOOL_FAILED',
          `${req.tool}: the response from ${describe(req.url)} broke off: ${reasonOf(error)}`,
          true,
        ),
      );
    });
  });
}

/** The endpoint without credentials or query, safe to put in a message. */
export function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : error.message;
  }
  return String(error);
}

export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out;
}
