import type { Request } from 'express';
import passport, { type PassportStatic } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { actorOf } from '../web/actor.ts';
import { readWithSession } from '../web/session-store.ts';
import type { SessionPerson } from './data.ts';
import type { AuthService } from './service.ts';

/** One passport instance per app (no module globals), with the local strategy and id-only sessions. */
export function createPassport(auth: AuthService): PassportStatic {
  const instance = new passport.Passport() as unknown as PassportStatic;
  instance.use(
    'local',
    new LocalStrategy({ usernameField: 'email', passwordField: 'password', passReqToCallback: true }, (req, email, password, done) => {
      const hint = typeof req.body?.directory === 'string' ? req.body.directory : undefined;
      auth
        .signInWithPassword(email.trim(), password, actorOf(req), hint)
        .then((result) => {
          if (result.kind === 'signedIn') return done(null, { id: result.userId } as Express.User);
          return done(null, false, { message: result.kind, ...result });
        }, done);
    }),
  );
  // Only the user id goes into the session; the person is loaded fresh on every request, in the
  // session's own query when the session came from the store (see readSessionWithPerson).
  instance.serializeUser((user, done) => done(null, user.id));
  instance.deserializeUser<string, Request>((req, id, done) => {
    const read = readWithSession(req.session) as SessionPerson | undefined;
    if (read && read.userId === id) return done(null, read.user ?? false);
    auth.loadCurrentUser(id).then((user) => done(null, user ?? false), done);
  });
  return instance;
}
