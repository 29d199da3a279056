import type { JobState } from "../core/ports/job-state.js";
import { type HealStatus, healKeys } from "../jobs/heal.js";
import { type RepairStatus, repairStatusKey } from "../jobs/repair.js";
import type { DataSafety } from "./index.js";

// The data-safety gauges come from the heal's and the repair's status in
// the shared job state, not from whichever prism ran them: the lease moves between prisms,
// and a prism that ran the last pass but one would otherwise keep reporting
// (and alerting on) what that pass found.

/** The last finished heal pass, raised by a repair that started after it and left files short. */
export function dataSafety(heal: HealStatus | undefined, repair: RepairStatus | undefined): DataSafety {
  const last = heal?.lastPass;
  const out = { under: last?.under ?? 0, noLive: last?.noLive ?? 0, backlog: last?.backlog ?? 0 };
  // A trim's failures are surplus copies left, not missing ones; a finished repair left nothing short.
  if (repair?.state === "repairing" && (!last || Date.parse(repair.startedAt) > last.at)) {
    out.under = Math.max(out.under, repair.failed + repair.unreachable);
    out.noLive = Math.max(out.noLive, repair.unreachable);
  }
  return out;
}

/** Reads both statuses in one request. */
export async function readDataSafety(state: JobState, prefix: string): Promise<DataSafety> {
  const [heal, repair] = await state.readMany<unknown>([healKeys(prefix).status, repairStatusKey(prefix)]);
  return dataSafety(heal as HealStatus | undefined, repair as RepairStatus | undefined);
}
