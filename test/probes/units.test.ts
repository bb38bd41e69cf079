// Small pieces checked against values worked out by hand.
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { intListOption, intOption, OptionError, parseOptions } from "../../probes/options.ts";
import { evalStats, median, percentile } from "../../probes/stats.ts";
import { formatTable } from "../../probes/table.ts";

describe("stats", () => {
  test("median and nearest-rank p90", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const ten = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    expect(percentile(ten, 0.9)).toBe(9);   // rank ceil(0.9 * 10) = 9
    expect(percentile([5], 0.9)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5], 0.9)).toBe(5); // rank ceil(4.5) = 5
  });

  test("hw stats only when every eval has a device time", () => {
    expect(evalStats([{ wallMs: 2, hwMs: 1 }, { wallMs: 4, hwMs: null }]).hw_ms).toBeNull();
    const s = evalStats([{ wallMs: 2, hwMs: 1 }, { wallMs: 4, hwMs: 3 }]);
    expect(s).toEqual({ count: 2, wall_ms: { median: 3, p90: 4, min: 2, max: 4 }, hw_ms: { median: 2, p90: 3, min: 1, max: 3 } });
  });
});

describe("options", () => {
  const schema = v.object({ n: intOption("--n", 1, 10), xs: intListOption("--xs", 0, 63, 4) });
  const parse = (n: string, xs: string) => parseOptions(schema, { n, xs });

  test("valid values", () => {
    expect(parse("3", "0, 21,63")).toEqual({ n: 3, xs: [0, 21, 63] });
  });

  test("one line naming the option and the rule", () => {
    const cases: Array<[string, string, RegExp]> = [
      ["0", "1", /^--n: must be an integer in 1\.\.10 \(got 0\)$/],
      ["1.5", "1", /^--n: must be an integer in 1\.\.10 \(got "1\.5"\)$/],
      ["2", "64", /^--xs: .*integers in 0\.\.63 \(got 64\)$/],
      ["2", "1,x", /^--xs: .* \(got "1,x"\)$/],
      ["2", "1,2,3,4,5", /^--xs: .*\(got 5 values\)$/],
      ["2", "1,1", /^--xs: .*\(got duplicates in 1,1\)$/],
    ];
    for (const [n, xs, message] of cases) {
      expect(() => parse(n, xs)).toThrow(OptionError);
      expect(() => parse(n, xs)).toThrow(message);
    }
  });
});

test("formatTable aligns numbers right and text left", () => {
  expect(formatTable(["name", "ms"], [["a", 1.5], ["long name", 12.25]])).toBe(
    "name          ms\n" +
    "---------  -----\n" +
    "a            1.5\n" +
    "long name  12.25\n",
  );
});
