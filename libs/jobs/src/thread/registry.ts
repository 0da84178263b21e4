import { JOB_NAMES, QUEUES, type AnyProcessor, type QueueName } from '@keel/contracts/jobs';

export class ProcessorRegistryError extends Error {
  override readonly name = 'ProcessorRegistryError';
}

/**
 * The processors of a process, checked against the job map: a job with no handler or with two is
 * a deploy bug that must stop the boot, not fail the first job that hits it (STYLE.md #2).
 */
export class ProcessorRegistry {
  private constructor(private readonly byKey: ReadonlyMap<string, AnyProcessor>) {}

  static from(processors: readonly AnyProcessor[]): ProcessorRegistry {
    const byKey = new Map<string, AnyProcessor>();
    const problems: string[] = [];
    for (const p of processors) {
      const key = `${p.queue}/${p.name}`;
      if (!(QUEUES as readonly string[]).includes(p.queue)) {
        problems.push(`processor for unknown queue '${p.queue}'`);
      } else if (!(JOB_NAMES[p.queue] as readonly string[]).includes(p.name)) {
        problems.push(`processor for unknown job '${key}'`);
      }
      if (byKey.has(key)) problems.push(`job '${key}' has more than one handler`);
      byKey.set(key, p);
    }
    for (const queue of QUEUES) {
      for (const name of JOB_NAMES[queue]) {
        if (!byKey.has(`${queue}/${name}`)) problems.push(`job '${queue}/${name}' has no handler`);
      }
    }
    if (problems.length > 0) {
      throw new ProcessorRegistryError(
        `processor registry is invalid:\n  - ${problems.join('\n  - ')}`,
      );
    }
    return new ProcessorRegistry(byKey);
  }

  get(queue: QueueName, name: string): AnyProcessor | undefined {
    return this.byKey.get(`${queue}/${name}`);
  }

  get size(): number {
    return this.byKey.size;
  }
}
