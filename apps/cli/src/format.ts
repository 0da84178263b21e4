import type { QueryResponseDto } from '@keel/contracts';

/** `keel query`'s text: the answer, what it cites, and how it was made. */
export function formatAnswer(r: QueryResponseDto): string {
  const lines = [r.answer];
  // The JSON says these as fields; the text must not hide them either.
  if (r.truncated) lines.push('[cut off: the model stopped at its token limit]');
  if (r.unsupportedCitations?.length) {
    const markers = r.unsupportedCitations.map((m) => `[${m}]`).join(' ');
    lines.push(`[cites ${markers}, which no packed passage carries: not in the citations]`);
  }
  if (r.degraded) {
    lines.push(
      `[degraded: retrieval leg ${r.failedLegs.join(', ')} failed; answered from the others]`,
    );
  }
  lines.push('');
  for (const c of r.citations) {
    lines.push(`[${c.marker}] ${c.title ?? c.documentId ?? c.id} (${c.id})`);
  }
  const t = r.timings;
  lines.push(
    '',
    `mode ${r.mode} · ${r.contexts.length} passages, ${r.usage.promptTokens} prompt tokens · ` +
      `retrieve ${t.retrieve} ms, rerank ${t.rerank} ms, pack ${t.pack} ms, total ${t.total} ms`,
  );
  return lines.join('\n');
}
