/**
 * What pino censors in every log line: credentials in request headers, and the API keys of the
 * model servers wherever a config object lands in a line (`{ embeddings }`, `{ config }`, or the
 * raw environment).
 */
export const LOG_REDACTION = {
  paths: [
    'req.headers.authorization',
    'req.headers.cookie',
    'req.headers["x-api-key"]',
    'res.headers["set-cookie"]',
    'apiKey',
    '*.apiKey',
    '*.*.apiKey',
    'EMBEDDINGS_API_KEY',
    'LLM_API_KEY',
    '*.EMBEDDINGS_API_KEY',
    '*.LLM_API_KEY',
    'KEEL_ADMIN_TOKEN',
    '*.KEEL_ADMIN_TOKEN',
    'adminToken',
    '*.adminToken',
  ],
  censor: '[redacted]',
};
