import type { Knex } from 'knex';
import type { CurrentUser } from '../auth/current-user.ts';
import type { Clock } from '../clock.ts';
import { readPageOrFirst, toPage, serializeKey, type Page, type PageRequest } from '../shared/keyset.ts';
import { countAvailable, countLiveAssignments, expiredAssignments, firstAvailablePage, listAvailable, listedPackageFacts, liveAssignments, type AssignmentListItem, type ListedPackageFacts, type PackageListItem, type SearchField } from './data.ts';

/** A row of Available, with what the person already has of it: the row then offers no Request access. */
export interface AvailablePackage extends PackageListItem, ListedPackageFacts {}

export const PACKAGE_PAGE_SIZE = 20;
/** Matches are counted up to this many ("More than 100"): a count costs a check per package counted. */
export const COUNT_CAP = 100;

export function createAccessPackageService(deps: { db: Knex; clock: Clock }) {
  const { db, clock } = deps;
  const requestorOf = (user: CurrentUser) => ({ id: user.id, directoryId: user.directory.id, type: user.type });
  return {
    /** The Available tab: packages this person may request, filtered by a search, a page at a time. */
    async available(user: CurrentUser, search: { q: string; field: SearchField }, page: PageRequest): Promise<{ page: Page<AvailablePackage>; total: number }> {
      const now = clock.now();
      const requestor = requestorOf(user);
      const key = (r: PackageListItem) => [r.sortName, r.id];
      if (!page.after && !page.before) {
        // The page everyone opens, and every new search: one statement lists up to COUNT_CAP + 1 packages to count them, with the page's facts.
        const { rows, total } = await firstAvailablePage(db, requestor, now, search, PACKAGE_PAGE_SIZE, COUNT_CAP);
        return { page: toPage(rows, PACKAGE_PAGE_SIZE, page, key), total };
      }
      const [rows, total] = await Promise.all([
        listAvailable(db, requestor, now, search, page, PACKAGE_PAGE_SIZE),
        countAvailable(db, requestor, now, search, COUNT_CAP),
      ]);
      const listed = toPage(rows, PACKAGE_PAGE_SIZE, page, key);
      const facts = await listedPackageFacts(db, user.id, listed.items.map((p) => p.id));
      return { page: { ...listed, items: listed.items.map((p) => ({ ...p, ...facts.get(p.id)! })) }, total };
    },
    /** The Active tab: access now or from a scheduled start, a page at a time, with how many in all. */
    async active(user: CurrentUser, page: PageRequest): Promise<{ page: Page<AssignmentListItem>; total: number }> {
      const [{ rows, request }, total] = await Promise.all([
        readPageOrFirst(page, (p) => liveAssignments(db, user.id, p, PACKAGE_PAGE_SIZE)),
        countLiveAssignments(db, user.id),
      ]);
      return { page: toPage(rows, PACKAGE_PAGE_SIZE, request, (r) => [r.endsAt ? serializeKey(r.endsAt) : null, r.sortName, r.id]), total };
    },
    async expired(user: CurrentUser, page: PageRequest): Promise<Page<AssignmentListItem>> {
      const { rows, request } = await readPageOrFirst(page, (p) => expiredAssignments(db, user.id, p, PACKAGE_PAGE_SIZE));
      return toPage(rows, PACKAGE_PAGE_SIZE, request, (r) => [serializeKey(r.endedAt), r.id]);
    },
  };
}

export type AccessPackageService = ReturnType<typeof createAccessPackageService>;
