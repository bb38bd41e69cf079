// Spot checks that bad programs fail with a LibaneError naming the status and the MIL line
// (the front end's own tests cover malformed input exhaustively).

import { describe, expect, test } from "bun:test";
import { LibaneError } from "../../src/ffi/index.ts";
import { backend, run } from "./harness.ts";
import { bodyLine, call, constBool, constInts, program } from "./mil.ts";

/** Expects `f` to throw a LibaneError with one of `statuses` whose message names `line`. */
function expectLibaneError(f: () => unknown, statuses: string[], line: number): LibaneError {
  let err: unknown = null;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LibaneError);
  const le = err as LibaneError;
  expect(statuses).toContain(le.statusName);
  expect(le.message).toMatch(new RegExp(`\\bline ${line}\\b`));
  return le;
}

const x23 = { name: "x", dtype: "fp16", shape: [2, 3] };
const ones = (n: number) => new Float32Array(n).fill(1);

describe("compile errors", () => {
  test("unknown op -> ANE_ERR_PARSE at its line", () => {
    const mil = program([x23], [call("y", "fp16", [2, 3], "relu", { x: "x" }), call("z", "fp16", [2, 3], "frobnicate", { x: "y" })], ["z"]);
    const e = expectLibaneError(() => run(mil, { x: ones(6) }, "fp16"), ["ANE_ERR_PARSE"], bodyLine(1));
    expect(e.message).toContain("frobnicate");
  });

  test("add of shapes that do not broadcast -> ANE_ERR_TYPE", () => {
    const mil = program([x23, { name: "w", dtype: "fp16", shape: [4, 5] }], [call("z", "fp16", [2, 3], "add", { x: "x", y: "w" })], ["z"]);
    expectLibaneError(() => run(mil, { x: ones(6), w: ones(20) }, "fp16"), ["ANE_ERR_TYPE"], bodyLine(0));
  });

  test("declared result shape disagrees with the op's -> ANE_ERR_TYPE", () => {
    const mil = program([x23], [call("y", "fp16", [3, 2], "relu", { x: "x" })], ["y"]);
    expectLibaneError(() => run(mil, { x: ones(6) }, "fp16"), ["ANE_ERR_TYPE"], bodyLine(0));
  });

  test("mixed fp16/fp32 operands -> ANE_ERR_TYPE", () => {
    const mil = program([x23, { name: "w", dtype: "fp32", shape: [2, 3] }], [call("z", "fp16", [2, 3], "mul", { x: "x", y: "w" })], ["z"]);
    expectLibaneError(() => run(mil, { x: ones(6), w: ones(6) }, "fp16"), ["ANE_ERR_TYPE"], bodyLine(0));
  });

  test("matmul with different inner dims -> ANE_ERR_TYPE", () => {
    const mil = program(
      [{ name: "a", dtype: "fp32", shape: [1, 1, 32, 64] }, { name: "b", dtype: "fp32", shape: [1, 1, 48, 64] }],
      [constBool("f", false), call("z", "fp32", [1, 1, 32, 64], "matmul", { x: "a", y: "b", transpose_x: "f", transpose_y: "f" })],
      ["z"],
    );
    expectLibaneError(() => backend().compile(mil, { chip: "none", numerics: "fp32" }), ["ANE_ERR_TYPE"], bodyLine(1));
  });

  test("reshape to a different element count -> ANE_ERR_TYPE", () => {
    const mil = program([x23], [constInts("s", [4, 2]), call("y", "fp16", [4, 2], "reshape", { x: "x", shape: "s" })], ["y"]);
    expectLibaneError(() => backend().compile(mil, { chip: "none" }), ["ANE_ERR_TYPE"], bodyLine(1));
  });

  test("a statement missing its closing parenthesis -> ANE_ERR_PARSE", () => {
    const bad = 'tensor<fp16, [2, 3]> z = relu(x=y[name=string("z")];';
    const mil = program([x23], [call("y", "fp16", [2, 3], "relu", { x: "x" }), bad], ["z"]);
    expectLibaneError(() => backend().compile(mil, { chip: "none" }), ["ANE_ERR_PARSE"], bodyLine(1));
  });

  test("a use of an undefined name names the line", () => {
    const mil = program([x23], [call("y", "fp16", [2, 3], "relu", { x: "nope" })], ["y"]);
    const e = expectLibaneError(() => backend().compile(mil, { chip: "none" }), ["ANE_ERR_PARSE", "ANE_ERR_TYPE"], bodyLine(0));
    expect(e.message).toContain("nope");
  });

  test("a truncated program -> ANE_ERR_PARSE", () => {
    const mil = program([x23], [call("y", "fp16", [2, 3], "relu", { x: "x" })], ["y"]);
    let err: unknown = null;
    try {
      backend().compile(mil.slice(0, mil.indexOf("relu(")), { chip: "none" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LibaneError);
    expect((err as LibaneError).statusName).toBe("ANE_ERR_PARSE");
    expect((err as LibaneError).message).toMatch(/line \d+/);
  });
});

describe("runProgram input errors", () => {
  const mil = program([x23], [call("y", "fp16", [2, 3], "relu", { x: "x" })], ["y"]);
  test("a missing input names it", () => {
    expect(() => run(mil, {}, "fp16")).toThrow(/"x"/);
  });
  test("an input of the wrong size says so", () => {
    expect(() => run(mil, { x: ones(5) }, "fp16")).toThrow(/5/);
  });
  test("an unknown extra input is refused", () => {
    expect(() => run(mil, { x: ones(6), extra: ones(1) }, "fp16")).toThrow(/extra/);
  });
});
