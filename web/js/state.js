// What every page shares: who is signed in, their roles, and the directories of agencies
// and staff, read once. Pages import this, never app.js (the router imports the pages).

import { api } from "./api.js";

export const MASH_STAFF = ["mash_practitioner", "mash_manager"];
export const PARTNERS = ["partner_practitioner"];
export const BOARD_READERS = ["board_member", "mash_manager", "auditor"];

export const session = { me: null, agencies: null, staff: null, staffList: null };

export function hasRole(...roles) {
  return Boolean(session.me && session.me.roles.some((r) => roles.flat().includes(r)));
}

export const isMashStaff = () => hasRole(MASH_STAFF);
export const isManager = () => hasRole("mash_manager");

/** Agency names by id (the directory any signed-in user may read). */
export async function agencies() {
  if (!session.agencies) {
    const { data } = await api("/api/v1/agencies/directory");
    session.agencies = new Map(data.map((a) => [a.id, a]));
  }
  return session.agencies;
}

/** Staff names by user id, for MASH staff (chronologies name who did what). */
export async function staffNames() {
  if (!session.staff) {
    try {
      const { data } = await api("/api/v1/users/directory");
      session.staff = new Map(data.map((u) => [u.id, u.display_name]));
      session.staffList = data;
    } catch {
      session.staff = new Map();
      session.staffList = [];
    }
  }
  return session.staff;
}

/** MASH colleagues one may allocate a referral to: active staff of one's own agency. */
export async function colleagues() {
  await staffNames();
  return (session.staffList || []).filter((u) => session.me && u.agency_id === session.me.agency_id);
}
