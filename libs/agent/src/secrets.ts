/** Where secret header values come from, by name (`WEATHER_TOKEN`). */
export type SecretSource = (name: string) => string | undefined;

/** The prefix of a tool secret's environment variable: `{ secret: 'X' }` reads `KEEL_TOOL_SECRET_X`. */
export const SECRET_ENV_PREFIX = 'KEEL_TOOL_SECRET_';

/**
 * Secrets from the environment, read at call time rather than snapshotted into the config at boot
 * (STYLE.md #5 otherwise): a rotated secret (a re-mounted Kubernetes Secret re-exported by the
 * entrypoint, a test) takes effect without re-registering the tool.
 */
export function envSecrets(env: NodeJS.ProcessEnv = process.env): SecretSource {
  return (name) => {
    const value = env[`${SECRET_ENV_PREFIX}${name}`];
    return value === undefined || value === '' ? undefined : value;
  };
}
