/** The bounds a tool gets when its declaration does not set them (the `tools` config section). */
export interface ToolDefaults {
  timeoutMs: number;
  maxConcurrency: number;
  maxResultBytes: number;
}

export const DEFAULT_TOOL_LIMITS: ToolDefaults = {
  timeoutMs: 10_000,
  maxConcurrency: 8,
  maxResultBytes: 256 * 1024,
};
