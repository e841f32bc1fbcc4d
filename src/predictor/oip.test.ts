import { describe, expect, it } from 'vitest';
import type { Model } from '../model/index.js';
import { OIP_MAX_ROWS, rowsFromTensors } from './oip.js';
import type { OipInferBody } from './schemas.js';

type Tensor = OipInferBody['inputs'][number];
const model = { spec: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] } as unknown as Model;
/** A tensor as a client sends it (the datatype's literal union does not survive typebox's static type). */
const tensor = (
  shape: number[],
  data: Tensor['data'],
  extra: { name?: string; datatype?: string } = {},
): Tensor => ({ name: 'input-0', datatype: 'FP64', shape, data, ...extra }) as unknown as Tensor;
const refusal = (inputs: Tensor[]): unknown => {
  try {
    rowsFromTensors(model, inputs);
    return 'accepted';
  } catch (e) {
    return { code: (e as { code: string }).code, field: (e as { field: string }).field };
  }
};

describe('Open Inference Protocol inputs', () => {
  it('reads [N, F] tensors, flat or nested, and one [N] tensor per feature', () => {
    expect(rowsFromTensors(model, [tensor([2, 3], [1, 2, 3, 4, null, 6])])).toEqual({
      rows: Float64Array.from([1, 2, 3, 4, Number.NaN, 6]),
      n: 2,
    });
    expect(
      rowsFromTensors(model, [
        tensor(
          [2, 3],
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
        ),
      ]).rows,
    ).toEqual(Float64Array.from([1, 2, 3, 4, 5, 6]));
    const byFeature = ['c', 'a', 'b'].map((name, i) => tensor([2], [i, i + 10], { name }));
    expect(rowsFromTensors(model, byFeature).rows).toEqual(Float64Array.from([1, 2, 0, 11, 12, 10]));
  });

  it('refuses a shape its data does not fill, before allocating for it', () => {
    // A billion rows of three features would be 24 GB: refused on the row bound, at once.
    expect(refusal([tensor([1_000_000_000, 3], [1, 2, 3])])).toEqual({
      code: 'bad_request',
      field: 'inputs.0.shape',
    });
    const huge = ['a', 'b', 'c'].map((name) => tensor([1_000_000_000], [1], { name }));
    expect(refusal(huge)).toEqual({ code: 'bad_request', field: 'inputs.0.shape' });
    expect(refusal([tensor([OIP_MAX_ROWS + 1], [1])])).toEqual({
      code: 'bad_request',
      field: 'inputs.0.shape',
    });
    // Within the row bound, the element count must match the values.
    expect(refusal([tensor([2, 3], [1, 2, 3])])).toEqual({ code: 'bad_request', field: 'inputs.0.data' });
    expect(refusal([tensor([1, 3], [[1, 2], [3]])])).toEqual('accepted');
    expect(refusal([tensor([1, 3], [[1, 2, 3, 4]])])).toEqual({
      code: 'bad_request',
      field: 'inputs.0.data',
    });
    const byFeature = ['a', 'b', 'c'].map((name) => tensor([9_000], [1, 2], { name }));
    expect(refusal(byFeature)).toEqual({ code: 'bad_request', field: 'inputs.0.data' });
    const unequal = ['a', 'b', 'c'].map((name, i) => tensor([i + 1], Array(i + 1).fill(1), { name }));
    expect(refusal(unequal)).toEqual({ code: 'bad_request', field: 'inputs.1.shape' });
  });

  it('refuses fractions in integer tensors', () => {
    expect(refusal([tensor([1, 3], [1, 2, 3.5], { datatype: 'INT64' })])).toEqual({
      code: 'bad_request',
      field: 'inputs.0.data',
    });
    expect(refusal([tensor([1, 3], [1, 2, null], { datatype: 'INT32' })])).toBe('accepted');
  });
});
