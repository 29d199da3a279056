import { type Options, execa } from "execa";

// Every podman call the replay makes: bounded in time, its output captured
// so a failure says what podman said.

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function podman(
  args: string[],
  o: { timeoutMs?: number; input?: Buffer | string; reject?: boolean; log?: Options["stdout"] } = {},
): Promise<Run> {
  const r = await execa("podman", args, {
    timeout: o.timeoutMs ?? 60_000,
    input: o.input,
    reject: false,
    stripFinalNewline: true,
    ...(o.log ? { stdout: o.log, stderr: o.log } : {}),
  });
  const run = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
  if ((o.reject ?? true) && run.exitCode !== 0) {
    const why = r.timedOut ? `timed out after ${o.timeoutMs ?? 60_000} ms` : `exited ${run.exitCode}`;
    throw new Error(`podman ${args.slice(0, 3).join(" ")} … ${why}: ${run.stderr.trim() || run.stdout.trim()}`);
  }
  return run;
}

export const exists = async (what: "image" | "container" | "network" | "volume", name: string) =>
  (await podman([what, "exists", name], { reject: false })).exitCode === 0;
