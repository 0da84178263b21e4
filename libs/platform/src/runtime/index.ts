export { readCgroupLimits } from './cgroup.js';
export type { CgroupLimits, CgroupProbeOptions, CgroupVersion, FileReader } from './cgroup.js';
export { parseMountInfo, parseProcCgroup, translateCgroupPath } from './proc.js';
export type { MountInfoEntry, Parsed, ProcCgroupEntry } from './proc.js';
export {
  describeRuntime,
  detectRuntime,
  HEAP_SHARE_OF_MEMORY,
  readHostResources,
  sizeRuntime,
  UV_THREADPOOL_MAX,
} from './sizing.js';
export type {
  DetectRuntimeOptions,
  HostResources,
  RuntimeDetection,
  RuntimeSizing,
  SizingOverrides,
} from './sizing.js';
