import { describe, expect, it } from 'vitest';
import { addLongDouble, formatLongDoubleHuman, parseLongDouble } from '../../src/shards/long-double.js';

const fmt = (s: string): string => formatLongDoubleHuman(parseLongDouble(s)!);
const add = (a: string, b: string): string => formatLongDoubleHuman(addLongDouble(parseLongDouble(a)!, parseLongDouble(b)!));

describe('long double formatting (INCRBYFLOAT / HINCRBYFLOAT replies)', () => {
  // INCRBYFLOAT on a missing key with this increment, as redis-server 7.0.15 answered
  it.each([
    [1e-7, '0.0000001'],
    [1e-20, '0'],
    [-1e-20, '0'],
    [1.5e-10, '0.00000000015'],
    [1.2345e-15, '0.00000000000000123'],
    [-5e-17, '-0.00000000000000005'],
    [1e-17, '0.00000000000000001'],
    [-2.5e-9, '-0.0000000025'],
    [1e21, '1000000000000000000000'],
    [1.5e25, '15000000000000000000000000'],
    [10.6, '10.6'],
    [3000, '3000'],
    [0, '0'],
    [-0, '0'],
    [1.5, '1.5'],
    [-1.5, '-1.5'],
  ])('%s → %s', (d, s) => {
    expect(fmt(String(d))).toBe(s);
  });
});

describe('long double addition, as redis-server 7.0.15 answered INCRBYFLOAT', () => {
  it.each([
    ['10000000000', '0.1', '10000000000.09999999962747097'],
    ['0', '123456789.123456789', '123456789.12345678899873747'],
    ['123456789.12345678899873747', '-0.0000001', '123456789.12345668899797602'],
    ['3.0e3', '200', '3200'],
    ['0.1', '0.2', '0.3'],
    ['10.50', '0.1', '10.6'],
    ['1', '-1', '0'],
    ['0', '0x10', '16'],
  ])('%s + %s → %s', (a, b, sum) => {
    expect(add(a, b)).toBe(sum);
  });

  it('refuses what strtold would not read, and NaN', () => {
    for (const bad of ['', ' 1', '1 ', 'abc', '1e', 'nan', '--1']) expect(parseLongDouble(bad)).toBeNull();
    expect(parseLongDouble('inf')!.inf).toBe(true);
  });
});
