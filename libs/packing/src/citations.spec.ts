import { describe, expect, it } from 'vitest';
import { checkCitations } from './citations.js';

const PACKED = [
  { marker: 1, id: 'a#0', documentId: 'a', title: 'A' },
  { marker: 2, id: 'b#0', documentId: 'b' },
  { marker: 3, id: 'c#1', documentId: 'c' },
];

describe('checkCitations', () => {
  it('keeps the cited packed passages once each, in marker order', () => {
    expect(
      checkCitations('KEDA scales on depth [3]. Pools follow the quota [1][3].', PACKED),
    ).toEqual({
      citations: [PACKED[0], PACKED[2]],
      unsupported: [],
    });
  });

  it('reads comma lists', () => {
    expect(checkCitations('Both [1, 2] and [2,3].', PACKED).citations).toEqual(PACKED);
  });

  it('drops and reports markers that no packed passage carries', () => {
    expect(checkCitations('True [1], made up [9] and [0], [4, 2].', PACKED)).toEqual({
      citations: [PACKED[0], PACKED[1]],
      unsupported: [0, 4, 9],
    });
  });

  it('ignores brackets that are not markers', () => {
    expect(checkCitations('See [the docs] and [a1] or [] [1.5].', PACKED)).toEqual({
      citations: [],
      unsupported: [],
    });
  });
});
