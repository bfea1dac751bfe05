import 'express-session';
import type { CurrentUser } from './auth/current-user.ts';

declare module 'express-session' {
  interface SessionData {
    csrfToken?: string;
    flash?: string;
    /** When the person signed in (ms since epoch): the absolute lifetime counts from here. */
    signedInAt?: number;
    /** A password that matched in several directories: the accounts to choose from, and where to go after. */
    pendingSignIn?: { userIds: string[]; returnTo: string; at: number };
    returnTo?: string;
  }
}

declare global {
  namespace Express {
    interface User extends CurrentUser {}
  }
}
