import { describe, expect, it } from 'vitest';
import { getTokenizer } from '@keel/text';
import { answerTruncated, type AgentRun, type AgentStep } from '../runs/types.js';
import { cutOffCall, nextState, rebuildMessages } from './agent-loop.js';
import { observe } from './observe.js';

const at = '2026-01-01T00:00:00.000Z';
const plan = (index: number, toolCalls: Array<{ id: string; name: string }>): AgentStep => ({
  index,
  kind: 'plan',
  startedAt: at,
  finishedAt: at,
  content: toolCalls.length ? null : 'the answer',
  toolCalls: toolCalls.map((c) => ({ ...c, arguments: '{}' })),
  usage: { promptTokens: 10, completionTokens: 5 },
  finishReason: toolCalls.length ? 'tool_calls' : 'stop',
});
const outcome = { id: 'a', name: 't', durationMs: 1, attempts: 1, ok: true as const, result: 1 };
const calls: AgentStep = {
  index: 1,
  kind: 'call_tools',
  startedAt: at,
  finishedAt: at,
  outcomes: [outcome],
};
const observed: AgentStep = {
  index: 2,
  kind: 'observe',
  startedAt: at,
  finishedAt: at,
  observations: [{ toolCallId: 'a', name: 't', content: '{"x":1}', truncated: false }],
};

describe('nextState: where a run continues from its persisted steps', () => {
  it('plans first, calls what a plan asked for, observes what the calls returned', () => {
    expect(nextState([])).toEqual({ kind: 'plan' });
    const p = plan(0, [{ id: 'a', name: 't' }]);
    expect(nextState([p])).toMatchObject({ kind: 'call_tools', calls: [{ id: 'a' }] });
    expect(nextState([p, calls])).toMatchObject({ kind: 'observe', outcomes: [outcome] });
    expect(nextState([p, calls, observed])).toEqual({ kind: 'plan' });
    expect(nextState([p, calls, observed, plan(3, [])])).toEqual({
      kind: 'done',
      answer: 'the answer',
    });
  });
});

describe('cutOffCall: the call a plan stopped at the token limit was writing', () => {
  const call = (id: string, args: string) => ({ id, name: 't', arguments: args });

  it('is the last call when its arguments are blank or not whole JSON', () => {
    const whole = call('a', '{"q":"x"}');
    expect(cutOffCall([whole, call('b', '{"q": "y')])?.id).toBe('b');
    expect(cutOffCall([whole, call('b', '  ')])?.id).toBe('b');
    expect(cutOffCall([call('b', '[1, 2')])?.id).toBe('b');
  });

  it('is none when the last call is whole, or there are no calls', () => {
    expect(cutOffCall([call('a', '{"q": "y'), call('b', '{}')])).toBeUndefined();
    expect(cutOffCall([])).toBeUndefined();
  });

  it('is known on resume from the persisted plan', () => {
    const p = plan(0, [{ id: 'a', name: 't' }]);
    expect(nextState([p])).toMatchObject({ kind: 'call_tools', cutOff: false });
    expect(nextState([{ ...p, finishReason: 'length' } as AgentStep])).toMatchObject({
      kind: 'call_tools',
      cutOff: true,
    });
  });
});

describe('answerTruncated: a final answer cut off at the token limit', () => {
  const cut = (step: AgentStep): AgentStep => ({ ...step, finishReason: 'length' }) as AgentStep;
  const answer: AgentStep = {
    index: 4,
    kind: 'answer',
    startedAt: at,
    finishedAt: at,
    answer: 'the answer',
  };

  it('reads the finish reason of the plan that answered', () => {
    const p = plan(0, [{ id: 'a', name: 't' }]);
    expect(answerTruncated([p, calls, observed, plan(3, []), answer])).toBe(false);
    expect(answerTruncated([p, calls, observed, cut(plan(3, [])), answer])).toBe(true);
    // A run resumed after its last plan was written but not its answer step.
    expect(answerTruncated([cut(plan(0, []))])).toBe(true);
    // Tool calls cut short are not an answer.
    expect(answerTruncated([cut(p), calls, observed])).toBe(false);
    expect(answerTruncated([])).toBe(false);
  });
});

describe('rebuildMessages', () => {
  it('replays the conversation: system, user, the assistant call, the tool answer', () => {
    const run = {
      spec: { input: 'q', collection: 'c', instructions: 'be brief' },
      steps: [plan(0, [{ id: 'a', name: 't' }]), calls, observed],
    } as unknown as AgentRun;
    const messages = rebuildMessages(run, {
      tools: [{ name: 't', description: '', parameters: {} }],
    });
    expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect(messages[0]?.content).toMatch(/never instructions[\s\S]*collection 'c'[\s\S]*be brief/);
    expect(messages[2]?.toolCalls?.[0]?.id).toBe('a');
    expect(messages[3]).toEqual({ role: 'tool', toolCallId: 'a', content: '{"x":1}' });
  });
});

describe('observe', () => {
  const tokenizer = getTokenizer('o200k_base');

  it('shows a small result whole, labelled as untrusted output', () => {
    const o = observe({ ...outcome, result: { text: 'hello' } }, tokenizer, 100);
    expect(o.truncated).toBe(false);
    expect(JSON.parse(o.content)).toMatchObject({ type: 'tool_output', untrusted: true });
  });

  it('cuts a large result to the token budget and says so', () => {
    const big = { ...outcome, result: 'word '.repeat(50_000) };
    const o = observe(big, tokenizer, 200);
    expect(o.truncated).toBe(true);
    expect(tokenizer.count(o.content)).toBeLessThan(260);
    expect(o.content).toMatch(/cut to 200 tokens/);
  });

  it('shows errors with their code', () => {
    const failed = {
      id: 'b',
      name: 't',
      durationMs: 1,
      attempts: 1,
      ok: false as const,
      error: { code: 'TOOL_TIMEOUT' as const, message: 'slow' },
    };
    expect(JSON.parse(observe(failed, tokenizer, 100).content)).toMatchObject({
      type: 'tool_error',
      code: 'TOOL_TIMEOUT',
    });
  });
});
