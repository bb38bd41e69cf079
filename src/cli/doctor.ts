// `rustane doctor`: what this machine and this build can do, and why not where they cannot.
import { Command, Option } from "clipanion";
import os from "node:os";
import { RustaneCommand } from "./base.ts";
import { RUSTANE_VERSION } from "./version.ts";
import * as ffi from "../ffi/index.ts";
import { formatTable } from "../util/table.ts";

interface BackendReport {
  name: string;
  ok: boolean;
  reason: string;
  info?: Record<string, unknown>;
  defaultChip?: string;
}

export interface DoctorReport {
  rustane: string;
  host: { os: string; arch: string; cpu: string; cores: number; memoryBytes: number };
  libane: { path: string; version: string; abi: number; expectedAbi: number } | { error: string };
  threads?: number;
  backends?: BackendReport[];
  defaultBackend?: string | null;
  defaultChip?: string | null;
  chips?: Array<{ name: string; compileLimit: number; profile?: Record<string, unknown>; error?: string }>;
  compiles?: number;
}

export function collectDoctorReport(): DoctorReport {
  const cpus = os.cpus();
  const report: DoctorReport = {
    rustane: RUSTANE_VERSION,
    host: { os: process.platform, arch: process.arch, cpu: cpus[0]?.model?.trim() ?? "unknown", cores: cpus.length, memoryBytes: os.totalmem() },
    libane: { error: "" },
  };
  try {
    report.libane = { path: ffi.libanePath(), version: ffi.libaneVersion(), abi: ffi.abiVersion(), expectedAbi: ffi.EXPECTED_ABI_VERSION };
  } catch (e) {
    report.libane = { error: (e as Error).message };
    return report;
  }
  report.threads = ffi.getThreads();
  const chipNames = ffi.chipNames();
  report.backends = ffi.backendNames().map((name) => {
    const probe = ffi.probeBackend(name);
    const entry: BackendReport = { name, ok: probe.ok, reason: probe.reason };
    if (probe.ok) {
      try {
        using b = ffi.openBackend(name);
        entry.info = b.info();
        entry.defaultChip = b.defaultChip();
      } catch (e) {
        entry.ok = false;
        entry.reason = (e as Error).message;
      }
    }
    return entry;
  });
  // "auto" picks ane when it works, else cpu (ane.h).
  const auto = report.backends.find((b) => b.name === "ane" && b.ok) ?? report.backends.find((b) => b.name === "cpu" && b.ok);
  report.defaultBackend = auto?.name ?? null;
  report.defaultChip = auto?.defaultChip ?? null;
  report.chips = chipNames.map((name) => {
    try {
      return { name, compileLimit: ffi.compileLimit(name), profile: ffi.chipProfile(name) };
    } catch (e) {
      return { name, compileLimit: ffi.compileLimit(name), error: (e as Error).message };
    }
  });
  report.compiles = ffi.compileCount();
  return report;
}

function scalar(v: unknown): string | null {
  if (typeof v === "string") return v.length > 120 ? v.slice(0, 117) + "..." : v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

/** One level of key/value pairs; nested objects are flattened with dotted keys, arrays joined. */
function flatten(obj: Record<string, unknown>, prefix = ""): string[][] {
  const rows: string[][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const s = scalar(v);
    if (s !== null) rows.push([prefix + k, s]);
    else if (Array.isArray(v) && v.every((x) => scalar(x) !== null)) rows.push([prefix + k, v.join(", ")]);
    else if (v && typeof v === "object" && !Array.isArray(v) && prefix === "") rows.push(...flatten(v as Record<string, unknown>, `${k}.`));
  }
  return rows;
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export function renderDoctorReport(r: DoctorReport): string {
  let out = "";
  const rows: string[][] = [
    ["rustane", r.rustane],
    ["host", `${r.host.os} ${r.host.arch}, ${r.host.cpu}, ${r.host.cores} cores, ${gib(r.host.memoryBytes)}`],
  ];
  if ("error" in r.libane) {
    rows.push(["libane", `NOT LOADED: ${r.libane.error}`]);
    return formatTable(["item", "value"], rows);
  }
  rows.push(["libane", `${r.libane.version} (ABI ${r.libane.abi}) from ${r.libane.path}`]);
  rows.push(["threads", String(r.threads)]);
  rows.push(["default backend", r.defaultBackend ?? "none works here"]);
  rows.push(["default chip", r.defaultChip ?? "(see backend info)"]);
  rows.push(["compiles so far", String(r.compiles)]);
  out += formatTable(["item", "value"], rows) + "\n";

  out += "backends\n" + formatTable(["backend", "works here", "why not"],
    (r.backends ?? []).map((b) => [b.name, b.ok ? "yes" : "no", b.ok ? "" : b.reason])) + "\n";

  out += "chip profiles\n" + formatTable(["chip", "compile budget", "description"], (r.chips ?? []).map((c) => [
    c.name, c.compileLimit === 0 ? "unlimited" : String(c.compileLimit),
    c.error ? `error: ${c.error}` : scalar(c.profile?.description) ?? "",
  ]));
  for (const b of r.backends ?? []) {
    if (!b.info) continue;
    out += `\n${b.name} backend info\n` + formatTable(["key", "value"], flatten(b.info));
  }
  return out;
}

export class DoctorCommand extends RustaneCommand {
  static paths = [["doctor"]];
  static usage = Command.Usage({
    description: "show which backends are compiled in and work here (and why not), the chip profiles, limits and compile budget",
    examples: [["human-readable report", "$0 doctor"], ["machine-readable report", "$0 doctor --json"]],
  });
  json = Option.Boolean("--json", false, { description: "print one JSON object instead of tables" });

  async run(): Promise<number> {
    const report = collectDoctorReport();
    this.context.stdout.write(this.json ? JSON.stringify(report, null, 2) + "\n" : renderDoctorReport(report));
    return "error" in report.libane ? 1 : 0;
  }
}
