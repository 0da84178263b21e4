// Agent tool dispatch (DESIGN.md §3): tool registry, dispatch, and the agent loop.
export type * from './tool-types.js';
