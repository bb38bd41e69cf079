// Which peak the peak probe divides by: the cpu backend's fp32 info, or the chip profile's fp16 peak.
import { expect, test } from "bun:test";
import type { Backend } from "../../src/ffi/index.ts";
import { backendPeak } from "../../probes/peak.ts";

const fakeBackend = (kind: string) => ({ kind }) as unknown as Backend;

test("cpu: peak_fp32_gflops from the backend info, converted to TFLOPS, with its derivation", () => {
  const peak = backendPeak({ backend: fakeBackend("cpu"), chip: "m4", info: { peak_fp32_gflops: 268.8, peak_derivation: "2 cores x 2.1 GHz x 64" } });
  expect(peak.precision).toBe("fp32");
  expect(peak.tflops).toBeCloseTo(0.2688, 12);
  expect(peak.source).toContain("2 cores x 2.1 GHz x 64");
  expect(backendPeak({ backend: fakeBackend("cpu"), chip: "m4", info: {} }).tflops).toBeNull();
});

test("ane: the chip profile's published fp16 peak; none for chips without one", () => {
  // M4's published conv-chain peak is 18.6 TFLOPS (maderix/ANE README, reference/ane-maderix.md §6).
  const m4 = backendPeak({ backend: fakeBackend("ane"), chip: "m4", info: {} });
  expect(m4.precision).toBe("fp16");
  expect(m4.tflops).toBe(18.6);
  expect(m4.source).toContain("chip profile m4");
  // No M1 result was ever published (inmem_peak fails there).
  expect(backendPeak({ backend: fakeBackend("ane"), chip: "m1", info: {} }).tflops).toBeNull();
});
