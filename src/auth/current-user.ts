/** The signed-in person as every page sees them (loaded fresh on each request from the session's user id). */
export interface CurrentUser {
  id: string;
  email: string;
  displayName: string;
  type: 'member' | 'guest';
  isAdmin: boolean;
  /** Owns at least one catalog: sees Administration for those catalogs. */
  ownsCatalogs: boolean;
  directory: { id: string; hint: string; name: string };
}

export function canAdminister(user: CurrentUser): boolean {
  return user.isAdmin || user.ownsCatalogs;
}
