// What a result document says about the machine: enough to group results by hardware class,
// nothing that identifies a person or a single machine (no hostname, username, paths, serials).
import os from "node:os";

export interface MachineInfo {
  os: string;          // "darwin", "linux"
  os_release: string;  // kernel release ("24.1.0" is macOS 15.1)
  arch: string;        // "arm64", "x64"
  cpu_model: string;   // "Apple M4 Pro"
  cores: number;       // logical CPUs
  memory_gb: number;   // total RAM, GiB, one decimal
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    os: os.platform(),
    os_release: os.release(),
    arch: os.arch(),
    cpu_model: (cpus[0]?.model ?? "").trim() || "unknown",
    cores: Math.max(1, cpus.length || navigator.hardwareConcurrency || 1),
    memory_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}
